import { ARGV_BYTE_LIMIT } from './argv-limit.js';
import { MAX_TEXT_BYTES } from './read-text.js';
import { BENCH_DEFAULTS, MAX_RUNS, MAX_WARMUP } from './args/bench-defaults.js';

/** Help text of the `weft` command and each subcommand. */
export const COMMANDS = ['generate', 'chat', 'eval', 'bench', 'demo', 'info'] as const;
export type CommandName = (typeof COMMANDS)[number];

const MODEL_DIR = `  --model DIR                model folder (config.json, tokenizer.json, onnx/model.onnx) or its http(s)://
                             (or file://) URL; default <repo>/models/story`;
const THREADS = (dflt: string) => `  --threads N                intra-op threads (wasm threads on web; ${dflt}0 = runtime default)`;
const BACKEND = `  --backend NAME             auto (default: npu > node > web by priority and probe, with mid-stream
                             failover) | node | web | npu, or a backend a --plugin registers`;
/** `--plugin`, up to what its plugin does in the command. */
const PLUGIN = `  --plugin SPEC[:k=v,...]    import a plugin and install it after the bundled ones (repeatable, in
                             order): a file (./my-plugin.mjs, ~/x.mjs) or a package name found from
                             this directory. Its export "plugin", else its default export, is a
                             plugin or a function that makes one from the k=v options`;
const RIGHTS = `                             It runs the module's code with your rights, as node --import does`;
/** The model flags of generate, eval and demo; `selects` says which flags pick a plugin's entries. */
const MODEL = (selects: string) => `${MODEL_DIR}
${THREADS('')}
${BACKEND}
${PLUGIN}. Its hooks
                             run on every request; ${selects}.
${RIGHTS}`;

const PIPELINE = `  --kv NAME[:k=v,...]        KV-cache store: fp32 (default) | fp16 | int8 | int4 | kivi | temporal,
                             e.g. --kv int4:group=32 or --kv kivi:residual=128 (see docs/kv-cache.md)
  --router NAME[:k=v,...]    attention router under a KV budget in tokens: full | window | sink-window |
                             strided | heavy-hitter | key-norm | hybrid | content-aware,
                             e.g. --router sink-window:sinks=4,window=252
  --onnx-file PATH           graph within the model folder (default onnx/model.onnx; routers that read
                             attention outputs, such as heavy-hitter, pick onnx/model_with_attentions.onnx)`;

/** The length, sampling and stop flags of generate and chat (`REQUEST_OPTIONS`). */
const SAMPLING = `  --max-tokens N             new tokens at most (default: generation_config.json's max_new_tokens, else
                             256, shortened to its max_length less the prompt); capped by the context,
                             with a note on stderr when N is more than the context leaves
  --min-tokens N             new tokens before end-of-sequence may end the text (default: the model's
                             min_new_tokens or min_length, else 0); --max-tokens still ends it
  --temperature T            0 = greedy (default: generation_config.json, else greedy)
  --top-k K                  keep the K most likely tokens (default: the model's, else 50; 0 = off)
  --top-p P                  nucleus sampling mass in [0, 1]
  --min-p P                  drop tokens below P x the top probability, in [0, 1]. These three apply
                             only when sampling: greedy decoding ignores them, with a note on stderr
  --repetition-penalty R     > 1 penalises tokens already seen (1 = off)
  --seed S                   seed of the sampler; the same seed gives the same tokens
  --stop STR                 stop when STR is produced (repeatable; never printed); STR may hold
                             special tokens such as <|im_end|>, alone or with other text`;

/** The component flags of generate and chat. */
const COMPONENTS = `  --processor NAME[:k=v,..]  a logits processor by name (repeatable, in order), after
                             --repetition-penalty and before temperature, top-k, top-p and min-p
  --sampler NAME[:k=v,..]    a sampler by name: it picks each token from the processed logits in place
                             of Weft's temperature, top-k, top-p and min-p draw
  --analyzer NAME[:k=v,..]   an analyzer by name (repeatable), e.g. attention-importance, which gives
                             --router hybrid the attention each slot received (and picks the attention graph)`;

export const MAIN_USAGE = `Usage: weft <command> [options]

Commands:
  generate   generate text from a prompt, streaming tokens as they are produced
  chat       talk with a chat model turn by turn, one message per line of standard input
  eval       perplexity of a text file through the incremental KV-cache path
  bench      Weft's generation loop against a bare onnxruntime-node greedy loop
  demo       stream a short story from the project's model
  info       what Weft will do with a model folder: graph, tokenizer, defaults, backend, registry

Options:
  -h, --help         show help (also: weft <command> --help)
  -v, --version      print the version

Exit codes: 0 success, 1 unexpected error (a plugin that fails during a request included), 2 bad input
(usage, model or option errors), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM). A second Ctrl-C
exits at once. A closed stdout (weft ... | head) ends the command quietly with 0. Relative paths are
relative to the directory the command was typed in, also under a package script such as pnpm weft
(which runs in the package folder; INIT_CWD says where the user was). A leading ~/ in a path flag is
the home directory, also in --model=~/x or a quoted "~/x" (~NAME stays a name).
`;

export const USAGE: Record<CommandName, string> = {
  generate: `Usage: weft generate [--model DIR] (--prompt TEXT | --prompt-file FILE | --prompt-ids 1,2,3 | --messages JSON | --messages-file FILE) [options]

Prompt (exactly one):
  --prompt TEXT              text, encoded with the tokenizer's special tokens (e.g. BOS)
  --prompt-file FILE         the same from a UTF-8 file (- = stdin); one trailing newline is dropped.
                             Use it for long prompts: command lines over ${ARGV_BYTE_LIMIT} bytes are refused
                             (onnxruntime-node crashes on command lines of about 28 KiB)
  --prompt-ids 1,2,3         token ids, used exactly as given
  --messages JSON            chat turns, e.g. '[{"role":"user","content":"Hi"}]' (needs a chat template);
                             one conversation (batches of conversations are an SDK feature)
  --messages-file FILE       the same JSON from a UTF-8 file (- = stdin), for long conversations

Options:
${MODEL('--kv, --router, --processor, --sampler, --analyzer and\n                             --backend select its entries')}
${SAMPLING}
${PIPELINE}
${COMPONENTS}
  --json                     one JSON object per line: {"type":"backend",...} (the choice and the passed-over
                             backends with reasons), {"type":"token",...} per token, {"type":"failover",...}
                             if a backend fails mid-stream, {"type":"analysis",...} per step an --analyzer
                             returns data (e.g. router-decisions), then {"type":"done",...}. Without
                             --json, analyzer output is not printed; a note on stderr says how much
  --raw                      on a terminal too, print the text exactly as the model wrote it, control
                             characters and escape sequences included (not with --json)
  -h, --help                 show this help

Without --json the text streams to stdout and a stats line goes to stderr. When stdout is a terminal,
control characters in the text (ESC and its sequences, \\r, backspace, bell, C1 and bidi controls) are
shown as visible stand-ins, such as ␛ for ESC and \\u009b for U+009B, so the model cannot move the
cursor, rewrite the screen or set the clipboard; --raw turns that off. Pipes and files get the text
byte for byte, with nothing added; on a terminal a newline follows the text, so the shell's prompt
starts on a line of its own.
Ctrl-C (or SIGTERM) stops generation at the next step; the result so far is still reported
(finishReason "abort", exit code 130, or 143 for SIGTERM). Stopped while the model loads or a prompt
is read from stdin, the command ends at once with "weft: interrupted".
`,
  chat: `Usage: weft chat [--model DIR] [--system TEXT] [options]

A conversation with the model, the multi-turn weft generate --messages: each line of standard input
is a user message. The conversation so far (system message, user and assistant turns) is rendered
with the model's chat template and a generation prompt, the reply streams to stdout and joins the
conversation. The model is loaded once, and needs a chat template (without one, use weft generate
--prompt). When the conversation would not fit the context with room for the reply (--max-tokens,
else the model's default, at most half the context), the oldest turns are dropped, never the system
message, with a note on stderr; a message that does not fit even alone is reported and not sent,
and the session goes on. The session keeps one prompt cache: each turn feeds the model only the
tokens the last turn did not (mostly the new message) instead of the whole conversation (with
the default fp32 store and no evicting router, the same replies); --no-prompt-cache turns it off.
With a --router other than full, window, sink-window or strided it is off, with a note.

On a terminal: a "> " prompt on stderr, with line editing and history. /reset forgets the
conversation (the system message stays), /exit (or /quit) or Ctrl-D on an empty line ends the
session, /help lists the commands; a message that starts with "/" is written with two ("//etc" sends "/etc").
Ctrl-C stops the reply being written (it and its message are left out of the conversation) and the
session goes on; Ctrl-C at the prompt exits with 130. A stats line follows each reply on stderr
(without --json, piped too), ending with "N prompt tokens cached" when the cache held some.
With stderr not a terminal (2>log), no prompt is drawn: the terminal echoes what is typed and
Ctrl-C is SIGINT. Piped: each line is a user turn (empty lines are skipped; /reset and /exit work
too), and each reply is followed by one line break; a reply may itself span lines, so a script
should read the replies with --json. A line over ${MAX_TEXT_BYTES / 1024 / 1024} MiB or not UTF-8, an unknown /command, or
a message that does not fit is reported on stderr and skipped, and the exit code is then 2; a
reply a plugin fails is reported and left out, and the session goes on (exit code 1 at the end); a
flag core refuses (a bad --kv, an unknown --processor) ends the session at the first message. SIGINT
or SIGTERM stops the session (the reply so far is reported; exit code 130 or 143).

A message of several lines (on a terminal and piped): a line that starts with """ (after any
spaces) opens a block, and the next line that ends with """ closes it; the lines between (with the
text after the opening mark and before the closing one) are one message and one turn, joined with
line breaks as typed (empty lines too; /commands and // are text there). """Hi""" is the message
"Hi"; """ in the middle of a line is text. On a terminal the prompt is "... " while a block is open,
and Ctrl-C drops the block (the session goes on). A block the input ends in (Ctrl-D, or the end of
piped input) is not sent: it is reported like a refused line. A block over ${MAX_TEXT_BYTES / 1024 / 1024} MiB is refused
whole, as a line is.

Options:
  --system TEXT              system message, first in every rendering of the conversation
  --no-prompt-cache          prefill the whole conversation at every turn (by default each turn feeds
                             only what the cache of the turns before lacks), to compare or to debug
${MODEL('--kv, --router, --processor, --sampler, --analyzer and\n                             --backend select its entries')}
${SAMPLING}
${PIPELINE}
${COMPONENTS}
  --json                     one JSON object per line, as weft generate --json writes them, each with
                             "turn" (the user turn's number, from 1): {"type":"backend",...},
                             {"type":"token",...}, {"type":"done",...} (with "droppedTurns", the
                             oldest turns left out of this one, and "cachedTokens", the prompt
                             tokens taken from the prompt cache) per reply, and "text", "failover"
                             and "analysis" records as generate writes them; {"type":"error",...}
                             for a line not sent, {"type":"reset",...} for /reset
  --raw                      on a terminal too, print the replies exactly as the model wrote them
                             (control characters are otherwise shown as visible stand-ins)
  -h, --help                 show this help
`,
  eval: `Usage: weft eval [--model DIR] --text-file FILE [--prefill N] [--kv SPEC] [--router SPEC] [--plugin SPEC]... [--json]

Splits FILE into documents on blank lines, encodes each with the tokenizer's special tokens (BOS),
and scores every next token through the same incremental KV-cache path generation uses.

Options:
${MODEL('--kv, --router and --backend select its entries')}
  --text-file FILE           UTF-8 text (- = stdin; other encodings are refused); documents are separated
                             by blank lines. A document longer than the context is scored in windows of
                             the context's length, each starting with the last token of the one before
  --prefill N                tokens of each document fed in the first forward pass (default 1)
${PIPELINE}
  --json                     print one JSON object: perplexity, nll, tokens, documents, skippedDocuments
                             (under two tokens), longDocuments and windows (evaluate runs), kvBytes
                             (at-rest bytes of the store after the last document), kvBytesFp32 (what
                             float32 would hold), their maxima over documents (kvBytesMax,
                             kvBytesFp32Max), msPerToken (null when no single-token step ran),
                             prefill, backend and model
  -h, --help                 show this help
`,
  bench: `Usage: weft bench [--model DIR] [--backend NAME] [--plugin SPEC]... [--tokens N] [--prompt-tokens P] [--batch B] [--runs R] [--warmup W] [--json]

Alternates, in one process, Weft's greedy generation and a bare onnxruntime-node greedy loop on the
same prompt ids and onnxruntime session (order A/B, B/A, ...; a session of its own for the bare
loop when the SDK side does not run on the node backend), excludes warm-up runs, reports medians,
and checks that both produce the same token ids. On another backend the two sides run on different
runtimes, so their difference is reported as such, not as what Weft adds. Both generate exactly
--tokens tokens (EOS is treated as any token).

Options:
  --model DIR                model folder on disk (config.json, tokenizer.json, onnx/model.onnx);
                             default <repo>/models/story
${THREADS(`default ${BENCH_DEFAULTS.threads}; `)}
  --backend NAME             the SDK side: node (default, as the bare loop) | web | npu | auto, or a
                             backend a --plugin registers
${PLUGIN}. On the Weft
                             side only: its hooks run in every Weft run and are timed with it.
${RIGHTS}
  --tokens N                 new tokens per row, >= 2 (default ${BENCH_DEFAULTS.tokens})
  --prompt-tokens P          prompt length in tokens (default ${BENCH_DEFAULTS.promptTokens})
  --batch B                  identical rows per run (default ${BENCH_DEFAULTS.batch})
  --runs R                   timed runs of each: even (each loop leads half), at most ${MAX_RUNS} (default ${BENCH_DEFAULTS.runs})
  --warmup W                 untimed warm-up runs of each, at most ${MAX_WARMUP} (default ${BENCH_DEFAULTS.warmup})
  --json                     print one JSON object
  -h, --help                 show this help
`,
  demo: `Usage: weft demo [--model DIR] [--threads N] [--backend NAME] [--plugin SPEC]... [--max-tokens N] [--seed S] [--raw]

Streams a short story from the project's model (temperature 0.8, top-k 50, top-p 0.95).

Options:
${MODEL('--backend selects its backend, and its default\n                             store or router is used')}
  --max-tokens N             new tokens at most (default 200)
  --seed S                   sampler seed (default: random, printed so the story can be replayed)
  --raw                      on a terminal too, print the story exactly as the model wrote it (control
                             characters are otherwise shown as visible stand-ins, as in weft generate)
  -h, --help                 show this help
`,
  info: `Usage: weft info [--model DIR] [--backend NAME] [--onnx-file PATH] [--plugin SPEC]... [--json]

Loads the model as weft generate would (same backend choice, graph and plugins), generates nothing,
and prints what Weft will do with it: the model (graph file, architecture, how positions and the
KV cache are fed), the tokenizer (special tokens, BOS, chat template), the generation defaults of
generation_config.json, the backend (chosen, passed over and why, the graph's inputs and outputs)
and the registry (every entry a request can name, the --plugin ones included, and the defaults).

Options:
${MODEL_DIR}
${THREADS('')}
${BACKEND}
${PLUGIN}; its entries
                             and hooks are listed under registry.
${RIGHTS}
  --onnx-file PATH           graph within the model folder (default: the one generate loads, the first
                             of onnx/model.onnx, onnx/decoder_model_merged.onnx and model.onnx)
  --json                     print one JSON object with the same facts: model, tokenizer, generation,
                             backend (input and output names in full) and registry (see the README)
  -h, --help                 show this help
`,
};
