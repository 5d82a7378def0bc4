import { MAX_LINE_BYTES, type ChatInput } from './input-lines.js';

/** The mark that opens and closes a multi-line message (as in Ollama). */
export const BLOCK_MARK = '"""';

/**
 * What `weft chat` gets next from its input, blocks joined: a line (a turn or a `/command`), a
 * closed `"""` block (one message, sent as it is), a line or block it had to refuse, an open block
 * dropped by Ctrl-C (`discarded`) or by the end of the input (`unclosed`; the next read is `end`),
 * the end of the input, or Ctrl-C at the prompt.
 */
export type MessageEvent =
  | { readonly type: 'line'; readonly text: string }
  | { readonly type: 'block'; readonly text: string }
  | { readonly type: 'bad'; readonly message: string }
  | { readonly type: 'discarded' }
  | { readonly type: 'unclosed'; readonly message: string }
  | { readonly type: 'end' }
  | { readonly type: 'interrupt' };

/** How a {@link MessageReader} prompts and bounds its messages. */
export interface MessageReaderOptions {
  /** The prompt before a message (`> `). */
  readonly prompt: string;
  /** The prompt before each line of an open block (`... `). */
  readonly continuation: string;
  /** Whether the input's lines are those of standard input, and messages name them by number (piped). */
  readonly numbered: boolean;
  /** Bytes a block's message may hold (UTF-8, its line breaks included); by default what one line may. */
  readonly maxBytes?: number;
}

/**
 * The text after the opening mark of a line that opens a block (it starts with `"""`, after any
 * whitespace), or undefined for a line that does not.
 */
function afterOpening(line: string): string | undefined {
  const start = line.trimStart();
  return start.startsWith(BLOCK_MARK) ? start.slice(BLOCK_MARK.length) : undefined;
}

/** The text before the closing mark of a line that closes a block (it ends with `"""`, before any whitespace). */
function beforeClosing(line: string): string | undefined {
  const end = line.trimEnd();
  return end.endsWith(BLOCK_MARK) ? end.slice(0, -BLOCK_MARK.length) : undefined;
}

/**
 * Reads `weft chat`'s messages from a {@link ChatInput}: each line is one, except a `"""` block.
 * A line that starts with `"""` (leading whitespace allowed) opens a block; the lines up to the
 * next one that ends with `"""` (trailing whitespace allowed) form one message, joined with "\n"
 * as typed (empty lines too). Text after the opening mark is the block's first line and text
 * before the closing mark its last (`"""Hi"""` is the message "Hi"); where that text is blank, it
 * adds no line. Inside a block, `/commands` and `//` are text. A block over `maxBytes`, or holding
 * a line the input refused, is refused whole once it closes, none of it kept.
 */
export class MessageReader {
  /** Lines read so far (refused ones too): line numbers of piped standard input. */
  #lines = 0;
  readonly #maxBytes: number;
  /** The block being read, if one is open. */
  #open: { opened: number; lines: string[]; count: number; bytes: number; over: boolean; spoiled: boolean } | undefined;

  constructor(
    readonly input: ChatInput,
    readonly options: MessageReaderOptions,
  ) {
    this.#maxBytes = options.maxBytes ?? MAX_LINE_BYTES;
  }

  /** The next message; rejects with `InterruptedError` as {@link ChatInput.read} does. */
  async read(): Promise<MessageEvent> {
    for (;;) {
      const block = this.#open;
      const event = await this.input.read(block === undefined ? this.options.prompt : this.options.continuation);
      if (event.type === 'line' || event.type === 'bad') this.#lines++;
      if (block === undefined) {
        if (event.type !== 'line') return event;
        const first = afterOpening(event.text);
        if (first === undefined) return event;
        this.#open = { opened: this.#lines, lines: [], count: 0, bytes: 0, over: false, spoiled: false };
        const closed = beforeClosing(first);
        if (closed !== undefined) return this.#close(closed);
        if (first.trim() !== '') this.#add(first);
        continue;
      }
      switch (event.type) {
        case 'line': {
          const last = beforeClosing(event.text);
          if (last !== undefined) return this.#close(last);
          this.#add(event.text);
          continue;
        }
        case 'bad':
          // Reported now, in the input's own words; the block is refused once it closes.
          block.spoiled = true;
          block.lines = [];
          return event;
        case 'interrupt':
          this.#open = undefined;
          return { type: 'discarded' };
        case 'end': {
          this.#open = undefined;
          const where = this.options.numbered ? ` opened at line ${block.opened} of standard input` : '';
          return { type: 'unclosed', message: `the ${BLOCK_MARK} block${where} has no closing ${BLOCK_MARK} before the end of the input; it was not sent` };
        }
      }
    }
  }

  /** Adds a line to the open block: kept while the block is within the bound, else only counted. */
  #add(line: string): void {
    const block = this.#open!;
    block.bytes += (block.count > 0 ? 1 : 0) + Buffer.byteLength(line);
    block.count++;
    if (block.bytes > this.#maxBytes) block.over = true;
    if (block.over || block.spoiled) block.lines = [];
    else block.lines.push(line);
  }

  /** Closes the open block, `last` (the text before its closing mark) its last line unless blank. */
  #close(last: string): MessageEvent {
    if (last.trim() !== '') this.#add(last);
    const block = this.#open!;
    this.#open = undefined;
    const { opened } = block;
    const which = this.options.numbered ? ` of ${opened === this.#lines ? `line ${opened}` : `lines ${opened}-${this.#lines}`} of standard input` : '';
    if (block.spoiled) return { type: 'bad', message: `the ${BLOCK_MARK} block${which} was not sent: a line in it was refused` };
    if (block.over) return { type: 'bad', message: `the ${BLOCK_MARK} block${which} holds over ${this.#maxBytes} bytes, more than a turn may; it was skipped` };
    return { type: 'block', text: block.lines.join('\n') };
  }
}
