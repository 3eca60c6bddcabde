/**
 * The schema, as an ordered list of migrations (index.ts), one a file. A migration is never
 * edited once released, not even its whitespace: a change to the schema is a new migration at the
 * end of the list, so every database, however old, reaches the same schema by running the ones it
 * lacks (see migrate.ts).
 *
 * Every function takes the schema name already quoted (`"posthorn"`).
 *
 * Times are bigint milliseconds handed in by the driver from its Clock — the database's own
 * now() is never used, so every server agrees with its tests' fake clock, and a claim's expiry
 * is computed by the same code in every driver.
 */
export interface Migration {
  version: number;
  name: string;
  sql(schema: string): string;
}
