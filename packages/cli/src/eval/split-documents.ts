/** Splits text into documents on blank lines (lines holding only whitespace count as blank). */
export function splitDocuments(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((d) => d.trim())
    .filter((d) => d !== '');
}
