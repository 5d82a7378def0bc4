/**
 * onnxruntime-node 1.30 crashes the process (SIGSEGV, nothing printed) in
 * `InferenceSession.create` when the process's command line is longer than about 28 KiB. The CLI
 * refuses command lines above this bound before anything loads onnxruntime; long prompts go
 * through `--prompt-file` (or `--messages-file`) instead.
 */
export const ARGV_BYTE_LIMIT = 16 * 1024;

/** Bytes of a command line as the kernel holds it: each argument in UTF-8 plus its NUL. */
export function commandLineBytes(args: readonly string[]): number {
  return args.reduce((sum, arg) => sum + Buffer.byteLength(arg, 'utf8') + 1, 0);
}

/**
 * The one-line reason to refuse `args` (the whole command line: node, its options, the script
 * and the CLI's arguments), or undefined when it is short enough.
 */
export function commandLineTooLong(args: readonly string[], limit = ARGV_BYTE_LIMIT): string | undefined {
  const bytes = commandLineBytes(args);
  if (bytes <= limit) return undefined;
  return (
    `the command line is ${bytes} bytes, over the limit of ${limit} (onnxruntime-node crashes on command lines ` +
    'of about 28 KiB); put a long prompt in a file and pass --prompt-file FILE (--messages-file FILE for chat turns), or - as FILE to read stdin'
  );
}
