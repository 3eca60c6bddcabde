import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { Capability } from '../core/index.js';
import { FakeClock } from '../core/index.js';
import type { DataDriver } from '../store/contract/index.js';

/**
 * The conformance suite's frame. A case is a plain async function that throws when the driver
 * breaks the behaviour it names; runConformance registers every case with node:test, and the
 * mutant tests run single cases against deliberately broken drivers to show each can fail.
 */

export interface ConformanceTarget {
  /** Shown in test names, e.g. 'memory'. */
  name: string;
  /** A driver over a store this case may use; the fake clock is the only time it reads. */
  open(clock: FakeClock): Promise<DataDriver>;
  /** Durable targets: close `driver` and open the same store again on the same clock. */
  reopen?(driver: DataDriver, clock: FakeClock): Promise<DataDriver>;
  /** Called once after the whole suite. */
  cleanup?(): Promise<void>;
  /**
   * Cases that cannot hold for this target by design, by case name, with why (printed as the
   * skip reason). Every other case runs: a target skips only what it must, and says so.
   */
  skips?: Readonly<Record<string, string>>;
}

export interface CaseContext {
  driver: DataDriver;
  clock: FakeClock;
  /** A project id of this case alone, so cases sharing a store never see each other. */
  project: string;
  /** Present for durable targets: closes the driver and opens the store again. */
  reopen?: () => Promise<DataDriver>;
}

export interface ConformanceCase {
  group: string;
  name: string;
  /** The case runs only on drivers that declare these. */
  requires?: Capability[];
  /** The case needs ctx.reopen. */
  needsReopen?: boolean;
  run(ctx: CaseContext): Promise<void>;
}

export function uniqueProject(): string {
  return `p-${randomBytes(6).toString('hex')}`;
}

/** Runs one case on a fresh driver and closes it after, whatever happens. */
export async function runCase(target: ConformanceTarget, testCase: ConformanceCase): Promise<void> {
  const clock = new FakeClock();
  let driver = await target.open(clock);
  const ctx: CaseContext = { driver, clock, project: uniqueProject() };
  if (target.reopen) {
    const reopen = target.reopen.bind(target);
    ctx.reopen = async () => {
      driver = await reopen(driver, clock);
      ctx.driver = driver;
      return driver;
    };
  }
  try {
    await testCase.run(ctx);
  } finally {
    await driver.close();
  }
}

/** Why a case does not apply to a target, or null when it does. */
export async function inapplicable(target: ConformanceTarget, testCase: ConformanceCase): Promise<string | null> {
  const skipped = target.skips?.[testCase.name];
  if (skipped !== undefined) return `${target.name}: ${skipped}`;
  if (testCase.needsReopen && !target.reopen) return `${target.name} cannot be reopened`;
  if (!testCase.requires?.length) return null;
  const driver = await target.open(new FakeClock());
  try {
    const missing = testCase.requires.filter((c) => !driver.capabilities.has(c));
    return missing.length ? `${target.name} does not declare ${missing.join(', ')}` : null;
  } finally {
    await driver.close();
  }
}

/** Registers every case as a node:test test, grouped. Inapplicable cases are skipped with their reason. */
export function runConformance(target: ConformanceTarget, cases: readonly ConformanceCase[]): void {
  const groups = new Map<string, ConformanceCase[]>();
  for (const c of cases) groups.set(c.group, [...(groups.get(c.group) ?? []), c]);
  describe(`conformance: ${target.name}`, () => {
    for (const [group, list] of groups) {
      describe(group, () => {
        for (const c of list) {
          it(c.name, async (t) => {
            const reason = await inapplicable(target, c);
            if (reason) {
              t.skip(reason);
              return;
            }
            await runCase(target, c);
          });
        }
      });
    }
    after(async () => {
      await target.cleanup?.();
    });
  });
}

/** Asserts that `promise` rejects with an instance of `errorClass` (and passes `check`). */
export async function rejectsWith<E extends Error>(
  promise: Promise<unknown>,
  errorClass: abstract new (...args: never[]) => E,
  check?: (error: E) => void,
): Promise<E> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, `expected a ${errorClass.name}, but the call succeeded`);
  assert.ok(caught instanceof errorClass, `expected a ${errorClass.name}, got ${String(caught)}`);
  check?.(caught as E);
  return caught as E;
}

/** Seconds to milliseconds, to move the fake clock in the units TTLs are given in. */
export const seconds = (s: number): number => s * 1000;
