import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadLuaScripts } from '../../src/store/redis/script-loader.js';
import { SCRIPT_NAMES, scriptDefinitions } from '../../src/store/redis/scripts.js';

const scratch = mkdtempSync(join(tmpdir(), 'posthorn-lua-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A folder of Lua files: name → text. */
function folder(name: string, files: Record<string, string>): string {
  const dir = join(scratch, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  return dir;
}

describe('redis script loader', () => {
  it('reads the key count from the file name and puts each include in place once, helpers before their users', () => {
    const dir = folder('diamond', {
      'both-2.lua': '--- @include "inc/a"\n--- @include "inc/b"\nreturn a() + b()\n',
      'inc/a.lua': '--- @include "base"\nlocal function a() return base() end\n',
      'inc/b.lua': '--- @include "base"\nlocal function b() return base() end\n',
      'inc/base.lua': 'local function base() return 1 end\n',
    });
    const scripts = loadLuaScripts(dir);
    assert.deepEqual(
      scripts.map((s) => [s.name, s.numberOfKeys]),
      [['both', 2]],
      'files in subfolders are includes, not scripts',
    );
    assert.equal(
      scripts[0]?.lua,
      'local function base() return 1 end\nlocal function a() return base() end\n' +
        'local function b() return base() end\nreturn a() + b()\n',
    );
  });

  it('refuses an include cycle, naming it', () => {
    const dir = folder('cycle', {
      'loop-1.lua': '--- @include "x"\nreturn 1\n',
      'x.lua': '--- @include "y"\n',
      'y.lua': '--- @include "x"\n',
    });
    assert.throws(() => loadLuaScripts(dir), /include cycle: .*x\.lua -> .*y\.lua -> .*x\.lua/);
  });

  it('loads every script the driver names, once, each with its helpers defined before use', () => {
    const scripts = scriptDefinitions();
    assert.equal(scriptDefinitions(), scripts, 'a second connection gets the scripts already read');
    assert.deepEqual(scripts.map((s) => s.name).sort(), [...SCRIPT_NAMES].sort());
    for (const script of scripts) {
      assert.doesNotMatch(script.lua, /@include/, `${script.name} has an include left`);
      const defined = [...script.lua.matchAll(/^local function (\w+)/gm)].map((m) => m[1] as string);
      assert.equal(new Set(defined).size, defined.length, `${script.name} defines a helper twice`);
      for (const name of defined) {
        const first = script.lua.search(new RegExp(`\\b${name}\\(`));
        const definition = script.lua.indexOf(`local function ${name}(`);
        assert.equal(first, definition + 'local function '.length, `${script.name} uses ${name} before defining it`);
      }
    }
  });

  it('every script header names as many KEYS as its file name says, and its ARGV and output', () => {
    const lua = fileURLToPath(new URL('../../src/store/redis/lua/', import.meta.url));
    for (const file of readdirSync(lua).filter((f) => f.endsWith('.lua'))) {
      const header = /^--\[\[\n([\s\S]*?)\n\]\]/.exec(readFileSync(join(lua, file), 'utf8'))?.[1];
      assert.ok(header, `${file} has a header`);
      const keys = [...header.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
      const count = Number(/-(\d+)\.lua$/.exec(file)?.[1]);
      assert.deepEqual(
        keys,
        Array.from({ length: count }, (_, i) => i + 1),
        `${file} lists KEYS[1] to KEYS[${count}]`,
      );
      assert.match(header, /ARGV\[1\]/, `${file} lists its ARGV`);
      assert.match(header, /Output:\n {4}\S/, `${file} says what it answers`);
    }
  });
});
