/**
 * Splits text into documents on blank lines: lines holding nothing or only whitespace (spaces,
 * tabs, no-break and other Unicode spaces, form feeds) separate documents, which are trimmed.
 */
export function splitDocuments(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[^\S\n]*\n/)
    .map((d) => d.trim())
    .filter((d) => d !== '');
}
