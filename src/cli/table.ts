/** A cell longer than this is cut, with an ellipsis: a table stays one line per row. */
const MAX_CELL = 48;

/**
 * A table for people: the first row is the header, underlined, columns padded to their widest
 * cell, two spaces apart, long cells cut. Every command's tables look alike.
 */
export function renderTable(rows: string[][], maxCell = MAX_CELL): string {
  const cells = rows.map((row) => row.map((c) => (c.length > maxCell ? `${c.slice(0, maxCell - 1)}…` : c)));
  const widths = (cells[0] ?? []).map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row, n) => {
      const line = row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd();
      return n === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : line;
    })
    .join('\n')
    .concat('\n');
}
