// The parser ships no types; the test's own helper (prometheus-text.ts) says what it answers.
declare module 'parse-prometheus-text-format' {
  const parse: (text: string) => unknown[];
  export default parse;
}
