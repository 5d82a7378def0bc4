/**
 * Raw bytes of byte-level BPE tokens (GPT-2 style vocabularies, whose token strings spell bytes
 * with one printable character each), for detokenizing without decoding windows of ids.
 */

/** The character GPT-2's byte-to-unicode table gives each byte, inverted: char code → byte. */
const CHAR_TO_BYTE: ReadonlyMap<number, number> = (() => {
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const map = new Map<number, number>();
  let shifted = 0;
  for (let b = 0; b < 256; b++) map.set(printable(b) ? b : 256 + shifted++, b);
  return map;
})();

/** What one id contributes to decoded text. */
export type TokenPiece =
  /** Bytes of a vocabulary token, joined with its neighbours before UTF-8 decoding. */
  | Uint8Array
  /** An added token's text, emitted as it is (it also ends the byte run before it). */
  | string
  /** A special token that decoding skips. */
  | null;

interface TokenizerJson {
  readonly model?: { readonly type?: string; readonly vocab?: Record<string, number> };
  readonly decoder?: { readonly type?: string } | null;
  readonly added_tokens?: readonly { readonly id: number; readonly content: string; readonly special?: boolean }[];
}

/**
 * Per-id pieces when `tokenizer.json` decodes by plain byte-level concatenation (a `ByteLevel`
 * decoder over a BPE vocabulary) and no clean-up rewrites the text afterwards; undefined
 * otherwise (sentencepiece-style decoders, word-piece, clean-up spaces), where only full decoding
 * is exact.
 */
export function byteLevelPieces(tokenizerJson: unknown, tokenizerConfig: Record<string, unknown>): ((id: number) => TokenPiece) | undefined {
  const json = tokenizerJson as TokenizerJson;
  // @huggingface/tokenizers cleans up spaces unless the config turns it off.
  if (tokenizerConfig['clean_up_tokenization_spaces'] !== false) return undefined;
  if (json?.decoder?.type !== 'ByteLevel' || json.model?.type !== 'BPE' || !json.model.vocab) return undefined;
  const tokens: string[] = [];
  for (const [token, id] of Object.entries(json.model.vocab)) tokens[id] = token;
  // As the decoder does: added tokens are text of their own, special ones (and the config's
  // additional_special_tokens) are skipped, matched by content.
  const addedContents = new Set<string>();
  const specials = new Set<string>();
  for (const t of json.added_tokens ?? []) {
    tokens[t.id] = t.content;
    addedContents.add(t.content);
    if (t.special === true) specials.add(t.content);
  }
  const extra = tokenizerConfig['additional_special_tokens'];
  if (Array.isArray(extra)) for (const t of extra) if (typeof t === 'string') specials.add(t);
  const cache: (TokenPiece | undefined)[] = [];
  return (id) => {
    const known = cache[id];
    if (known !== undefined) return known;
    const token = tokens[id] ?? '';
    const piece: TokenPiece = specials.has(token) ? null : addedContents.has(token) ? token : toBytes(token);
    cache[id] = piece;
    return piece;
  };
}

function toBytes(token: string): Uint8Array {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) out[i] = CHAR_TO_BYTE.get(token.charCodeAt(i)) ?? 0;
  return out;
}
