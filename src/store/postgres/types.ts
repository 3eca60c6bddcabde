import pg from 'pg';

const INT8 = 20;
const parseInt8 = (text: string): number => Number(text);

/**
 * Type parsers for this driver's pools only (pg's global table is left alone, so other users
 * of pg in the same process — pg-boss in the benchmarks — are not affected). bigint columns
 * hold milliseconds, positions and counts, all far below 2^53, so they come back as numbers.
 */
export const POSTGRES_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8 && format !== 'binary') return parseInt8;
    return format === undefined ? pg.types.getTypeParser(oid) : pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};
