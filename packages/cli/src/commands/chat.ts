import { InvalidOptionsError, ModelLoadError, PluginError, type DoneEvent, type FailoverEvent, type GenerationRequest, type PromptCache, type StartEvent, type WeftModel } from '@weft/core';
import { parseChatArgs, type ChatArgs } from '../args/chat-args.js';
import { CHAT_FLAGS } from '../chat/chat-flags.js';
import { chatTokens, Conversation, type Fit } from '../chat/conversation.js';
import { pipedInput, type ChatInput } from '../chat/input-lines.js';
import { MessageReader } from '../chat/message-blocks.js';
import { terminalInput } from '../chat/terminal-input.js';
import { EXIT, exitCodeOf, InterruptedError, oneLine, shortenLongWords, UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { openRequestModel } from '../open-model.js';
import { consumeGeneration } from '../output/consume-generation.js';
import { releaseAllLines } from '../output/held-line.js';
import { maxTokensNote } from '../output/max-tokens-note.js';
import { openLine } from '../output/open-line.js';
import { samplingNote } from '../output/sampling-note.js';
import { statsLine } from '../output/stats-line.js';
import { jsonLine, terminalSafe, textWriter } from '../output/terminal-text.js';
import { analyzerNote, doneRecords, streamHandlers } from '../output/generation-records.js';
import { loadPlugins } from '../plugins/load-plugins.js';
import { USAGE } from '../usage.js';

/** The prompt shown on a terminal before each user turn (on stderr: stdout carries only the replies). */
export const CHAT_PROMPT = '> ';

/** The prompt before each further line of an open `"""` block (a multi-line message). */
export const CHAT_CONTINUATION_PROMPT = '... ';

/** What `/help` prints (on stderr). */
export const CHAT_HELP = `Type a message and press Enter; the reply streams below it. Commands:
  /reset   forget the conversation so far (the --system message stays)
  /exit    end the session (also /quit, or Ctrl-D on an empty line)
  /help    show this help
Ctrl-C stops a reply (it and its message are left out of the history); at the prompt it ends the
session. A message that starts with "/" is written with two: //etc sends "/etc".
A message of several lines goes between lines of """ (the prompt is "... " until the closing one):
a line that starts with """ opens it, the next line that ends with """ closes it, and the lines
between are sent as typed, as one message (/commands in it are text). Ctrl-C in it drops it; Ctrl-D
(the end of the input) in it drops it too and ends the session.
`;

/** New tokens a reply may take when neither --max-tokens nor the model's generation_config.json says (core's default). */
const DEFAULT_REPLY_TOKENS = 256;

/** `weft chat`: a conversation with the model, one user turn per line of standard input (or per `"""` block of lines). */
export async function chatCommand(args: readonly string[], io: CliIo): Promise<number> {
  const options = parseChatArgs(args);
  if (options.help) {
    io.stdout.write(USAGE.chat);
    return EXIT.ok;
  }
  if (io.terminal === undefined && io.stdin === undefined) {
    throw new UsageError('weft chat reads its turns from standard input, which this caller did not provide');
  }
  const plugins = await loadPlugins(options.plugins, io.cwd, io.signal);
  const { model, close } = await openRequestModel(options, io, plugins);
  let input: ChatInput | undefined;
  try {
    checkChatTemplate(model, options.system);
    checkSystemFits(model, options);
    input = io.terminal !== undefined ? terminalInput(io.terminal(), io.stderr, io.signal) : pipedInput(io.stdin!, io.signal);
    return await new ChatSession(model, options, io, input).run();
  } finally {
    input?.close();
    await close();
  }
}

/**
 * Refuses a model `weft chat` cannot talk with before any input is read: one without a chat
 * template (core's own words, pointing to `weft generate --prompt`), or whose template refuses a
 * conversation that starts with the `--system` message.
 */
function checkChatTemplate(model: WeftModel, system: string | undefined): void {
  const probe = [...(system === undefined ? [] : [{ role: 'system', content: system }]), { role: 'user', content: 'Hello' }];
  try {
    model.tokenizer.applyChatTemplate(probe, { addGenerationPrompt: true });
  } catch (error) {
    if (!InvalidOptionsError.isInstance(error)) throw error;
    // The model's template does not parse (core names the file in the cause).
    if (ModelLoadError.isInstance(error.cause)) {
      throw new UsageError(`${error.cause.message}; weft chat needs a chat template that parses: fix it, or use weft generate --prompt TEXT instead`, { cause: error });
    }
    // Core's "This model has no chat_template (…); pass `prompt` instead of `messages`."
    const missing = /; pass `prompt` instead of `messages`\.$/;
    if (missing.test(error.message)) {
      throw new UsageError(`${error.message.replace(missing, '')}; weft chat needs one: use weft generate --prompt TEXT instead`, { cause: error });
    }
    if (system !== undefined) throw new UsageError(`--system: ${oneLine(error)}`, { cause: error });
    throw error;
  }
}

/** The room of a session: the reply's reserve, and the tokens the conversation may take (the context less that). */
function contextRoom(model: WeftModel, options: ChatArgs): { reserve: number; budget: number } {
  const context = model.config.maxPositions;
  const wanted = options.request.maxTokens ?? model.generationConfig.maxNewTokens ?? DEFAULT_REPLY_TOKENS;
  const reserve = Math.max(1, Math.min(wanted, Math.floor(context / 2)));
  return { reserve, budget: context - reserve };
}

/**
 * Refuses, before any input is read, a `--system` message that leaves no room for a message: it
 * and an empty user message, rendered with the template, take all the context left once the
 * reply's room is kept.
 */
function checkSystemFits(model: WeftModel, options: ChatArgs): void {
  if (options.system === undefined) return;
  const { reserve, budget } = contextRoom(model, options);
  const count = chatTokens(model.tokenizer, [{ role: 'system', content: options.system }, { role: 'user', content: '' }], budget + 1);
  if (count.tokens < budget) return;
  const context = model.config.maxPositions;
  const lower = options.request.maxTokens !== undefined && !count.atLeast && count.tokens < context - 1 ? ', or lower --max-tokens' : '';
  throw new UsageError(
    `--system takes ${count.atLeast ? 'at least ' : ''}${count.tokens} tokens with the chat template, leaving no room for a message: ` +
      `the model's context of ${context} holds ${budget} once ${reserve} are kept for the reply (shorten it${lower})`,
  );
}

/**
 * A `weft chat` session: reads turns, keeps the history, streams each reply. Unless
 * `--no-prompt-cache` (or `--router`) is given, one prompt cache serves the whole session, so each
 * turn feeds only the tokens the last one did not (the new message, mostly).
 */
class ChatSession {
  readonly #conversation: Conversation;
  /** The session's prompt cache, while it is on (made in `run`, disposed when it ends). */
  #cache: PromptCache | undefined;
  /** Whether the reply being streamed got its `start` event (a refused cache is retried only before it). */
  #started = false;
  /** Tokens the conversation may take: the context less the room kept for the reply. */
  readonly #budget: number;
  readonly #reserve: number;
  readonly #write: (line: object) => void;
  readonly #writeText: (text: string) => void;
  readonly #onTerminal: boolean;
  /** User turns so far (refused ones too): the `turn` of the JSON records. */
  #turn = 0;
  /** Some line was refused (bad input): piped, the session ends with exit code 2. */
  #refused = false;
  /** Some turn failed in a plugin (its own fault): piped, the session ends with exit code 1. */
  #failed = false;
  #samplingNoted = false;
  #maxTokensNoted = false;
  readonly #analyzed = new Map<string, number>();

  constructor(
    readonly model: WeftModel,
    readonly options: ChatArgs,
    readonly io: CliIo,
    readonly input: ChatInput,
  ) {
    this.#conversation = new Conversation(options.system);
    const { reserve, budget } = contextRoom(model, options);
    this.#reserve = reserve;
    this.#budget = budget;
    this.#write = (line) => void io.stdout.write(`${jsonLine(line)}\n`);
    this.#writeText = textWriter(io.stdout, options.raw);
    this.#onTerminal = io.terminal !== undefined;
  }

  async run(): Promise<number> {
    if (this.options.promptCache) this.#cache = this.model.createPromptCache();
    try {
      return await this.#turns();
    } finally {
      // Every way out (end of input, /exit, Ctrl-C, an error) frees what the cache holds.
      this.#cache?.dispose();
      this.#cache = undefined;
    }
  }

  async #turns(): Promise<number> {
    const { io } = this;
    const messages = new MessageReader(this.input, { prompt: CHAT_PROMPT, continuation: CHAT_CONTINUATION_PROMPT, numbered: !this.#onTerminal });
    for (;;) {
      const event = await messages.read();
      if (event.type === 'end') break;
      if (event.type === 'interrupt') {
        // Ctrl-C at the prompt ends the session, as it ends any command: "weft: interrupted", 130.
        io.stderr.write('\n');
        throw new InterruptedError();
      }
      if (event.type === 'bad') {
        this.#refuse(event.message);
        continue;
      }
      if (event.type === 'discarded') {
        // Ctrl-C in an open block (only on a terminal): the block is dropped, the session goes on.
        io.stderr.write('\nweft: the """ message was discarded (Ctrl-C)\n');
        continue;
      }
      if (event.type === 'unclosed') {
        // The end of the input in an open block: the block is not sent (the next read ends the session).
        if (this.#onTerminal) io.stderr.write('\n');
        this.#refuse(event.message);
        continue;
      }
      if (event.type === 'block') {
        // A block is one message, as typed: no /commands, no // escape.
        if (event.text.trim() === '') continue;
        if (await this.#reply(event.text)) return EXIT.interrupted;
        continue;
      }
      const line = event.text;
      if (line.trim() === '') continue;
      if (line.startsWith('/') && !line.startsWith('//')) {
        const command = line.trim();
        if (command === '/exit' || command === '/quit') break;
        if (command === '/reset') {
          this.#conversation.reset();
          this.#cache?.clear();
          if (this.options.json) this.#write({ type: 'reset', turn: this.#turn });
          if (this.#onTerminal) io.stderr.write('weft: the conversation is cleared\n');
        } else if (command === '/help') {
          io.stderr.write(CHAT_HELP);
        } else {
          this.#refuse(`unknown command ${JSON.stringify(shortenLongWords(command, 40))}; /help lists them (write //… to send a message that starts with "/")`);
        }
        continue;
      }
      const stopped = await this.#reply(line.startsWith('//') ? line.slice(1) : line);
      if (stopped) return EXIT.interrupted;
    }
    const note = analyzerNote(this.#analyzed);
    if (note !== undefined) io.stderr.write(`${note}\n`);
    if (this.#onTerminal) return EXIT.ok;
    return this.#failed ? EXIT.failure : this.#refused ? EXIT.usage : EXIT.ok;
  }

  /** Reports a line that was not sent, or a turn that failed: on stderr (and as a JSON record), the session going on. */
  #refuse(message: string, turn?: number): void {
    this.#refused = true;
    this.#report(message, turn);
  }

  #report(message: string, turn?: number): void {
    const line = `weft: ${turn === undefined ? '' : `turn ${turn}: `}${shortenLongWords(message)}`;
    this.io.stderr.write(`${this.io.stderr.isTTY === true ? terminalSafe(line) : line}\n`);
    if (this.options.json) this.#write({ type: 'error', ...(turn === undefined ? {} : { turn }), message });
  }

  /** Sends `text` as the next user turn and streams the reply; true when the command was stopped (its signal). */
  async #reply(text: string): Promise<boolean> {
    const { io, model, options } = this;
    const turn = ++this.#turn;
    const context = model.config.maxPositions;
    let fit: Fit;
    try {
      fit = this.#conversation.fitMessage(text, this.#budget, (messages, stopAt) => chatTokens(model.tokenizer, messages, stopAt));
    } catch (error) {
      // The template refused this conversation (say, roles it does not accept): the turn is left out.
      if (exitCodeOf(error) !== EXIT.usage) throw error;
      this.#refuse(oneLine(error, CHAT_FLAGS), turn);
      return false;
    }
    if (!fit.fits) {
      const withSystem = this.#conversation.system === undefined ? '' : ' with the --system message';
      // Lowering --max-tokens helps only a message that would fit the context with less room kept.
      const lower = options.request.maxTokens !== undefined && !fit.atLeast && fit.tokens < context ? ', or lower --max-tokens' : '';
      this.#refuse(
        `this message takes ${fit.atLeast ? 'at least ' : ''}${fit.tokens} tokens${withSystem}, but the model's context of ${context} holds ${this.#budget} ` +
          `once ${this.#reserve} are kept for the reply; it was not sent (shorten it${lower})`,
        turn,
      );
      return false;
    }
    if (fit.dropped > 0) {
      const left = fit.kept.length;
      io.stderr.write(
        `weft: note: the conversation outgrew the context (${context} tokens, ${this.#reserve} kept for the reply): ` +
          `the oldest ${fit.dropped === 1 ? 'turn was' : `${fit.dropped} turns were`} dropped, ${left} kept\n`,
      );
    }
    const reply = new AbortController();
    let byKey = false;
    const stopCommand = (): void => reply.abort();
    io.signal?.addEventListener('abort', stopCommand, { once: true });
    if (io.signal?.aborted) reply.abort();
    const doneReplying = this.input.replying(() => {
      byKey = true;
      reply.abort();
    });
    let done: DoneEvent;
    try {
      done = await this.#streamCached(turn, { ...options.request, messages: fit.messages, signal: reply.signal }, fit.dropped);
    } catch (error) {
      // A flag core refused (a bad --kv, an unknown --processor) would refuse every turn the same
      // way: the session ends at once, exit code 2, with the flag named.
      const code = exitCodeOf(error);
      if (code === EXIT.failure && PluginError.isInstance(error)) {
        // A plugin failed during this reply (its own fault, not the input): the turn is left out of
        // the conversation and the session goes on, so one failed reply does not lose it.
        this.#failed = true;
        this.#report(`${oneLine(error, CHAT_FLAGS)} (the message and its reply are left out of the conversation)`, turn);
        return false;
      }
      if (code !== EXIT.usage || isFlagError(error)) throw error;
      // Bad input for this turn only (core found the prompt too long after all): the session goes on.
      this.#refuse(oneLine(error, CHAT_FLAGS), turn);
      return false;
    } finally {
      doneReplying();
      io.signal?.removeEventListener('abort', stopCommand);
    }
    if (done.finishReason === 'abort') {
      // Stopped: what came is shown, but a cut-off reply is not what the model would answer.
      if (io.signal?.aborted) return true;
      if (byKey) io.stderr.write('weft: reply stopped (Ctrl-C): it and the message it answers are left out of the conversation\n');
      return false;
    }
    this.#conversation.commit(fit.kept, { user: text, assistant: done.rows[0]!.text });
    return false;
  }

  /**
   * {@link #stream} with the session's prompt cache, while it is on. When core refuses the cache
   * (a plugin's default attention router, say) before the reply starts, the cache is turned off
   * for the session, with one note on stderr, and the same turn is sent again without it.
   */
  async #streamCached(turn: number, request: GenerationRequest, dropped: number): Promise<DoneEvent> {
    const cache = this.#cache;
    if (cache === undefined) return this.#stream(turn, request, dropped);
    try {
      return await this.#stream(turn, { ...request, promptCache: cache }, dropped);
    } catch (error) {
      if (this.#started || !InvalidOptionsError.isInstance(error) || error.option !== 'promptCache') throw error;
      cache.dispose();
      this.#cache = undefined;
      const note = `weft: note: the prompt cache is off: ${oneLine(error)}`;
      this.io.stderr.write(`${this.io.stderr.isTTY === true ? terminalSafe(note) : note}\n`);
      return this.#stream(turn, request, dropped);
    }
  }

  /** Runs one reply, streaming it (text or JSON records), and resolves with its done event. */
  async #stream(turn: number, request: GenerationRequest, dropped: number): Promise<DoneEvent> {
    const { io, model, options } = this;
    const write = this.#write;
    this.#started = false;
    /** Prompt tokens the reply took from the prompt cache (its start event's `cachedTokens`). */
    let cachedTokens = 0;
    const startNotes = (e: StartEvent | FailoverEvent): void => {
      if (e.type !== 'start') return;
      this.#started = true;
      cachedTokens = e.cachedTokens;
      const note = this.#maxTokensNoted ? undefined : maxTokensNote(options.request.maxTokens, e.promptIds[0]?.length ?? 0, model.config.maxPositions);
      if (note !== undefined) {
        this.#maxTokensNoted = true;
        io.stderr.write(`${note}\n`);
      }
      const sampling = this.#samplingNoted ? undefined : samplingNote(options.request, model.generationConfig);
      this.#samplingNoted = true;
      if (sampling !== undefined) io.stderr.write(`${sampling}\n`);
    };
    const line = openLine(io.stdout);
    const out = { io, json: options.json, write, writeText: this.#writeText, line, fields: { turn }, onStartOrFailover: startNotes, analyzed: this.#analyzed };
    const { handlers, streamed } = streamHandlers(out);
    const { done } = await consumeGeneration(model, request, handlers).catch((error: unknown) => {
      // A reply cut short by a failure still ends its line, as every reply does (piped too).
      if (line.open && io.stdout.isTTY !== true) io.stdout.write('\n');
      line.endOnTerminal();
      throw error;
    });
    if (options.json) doneRecords(out, model, done, streamed(), { droppedTurns: dropped, cachedTokens });
    else {
      // Each reply ends its line, so replies come one after another, a line break between them.
      io.stdout.write('\n');
      line.wrote('\n');
      line.endOnTerminal();
      releaseAllLines();
      const cached = cachedTokens > 0 ? [`${cachedTokens} prompt token${cachedTokens === 1 ? '' : 's'} cached`] : [];
      io.stderr.write(`${statsLine(done, cached)}\n`);
    }
    return done;
  }
}

/** Whether core refused the request for an option a chat flag set (`kv.group`, `processors[1]`), not for this turn's message. */
function isFlagError(error: unknown): boolean {
  if (!InvalidOptionsError.isInstance(error)) return false;
  const option = error.option;
  if (typeof option !== 'string') return false;
  const field = option.split(/[.[]/, 1)[0]!;
  return Object.hasOwn(CHAT_FLAGS, field);
}
