/**
 * The line a command holds open on the terminal (the eval progress line, redrawn in place, or text
 * streamed without its newline yet), so that whatever else comes to the terminal meanwhile (a
 * plugin's output redirected to stderr, an error the process guards report) starts on a line of
 * its own. One per process: the CLI runs one command at a time.
 */
let end: (() => void) | undefined;

/** Registers `ending` as what ends the held line, until {@link releaseLine} or {@link endHeldLine}. */
export function holdLine(ending: () => void): void {
  end = ending;
}

/** Forgets `ending` if it is the held line's (the line was ended by its owner). */
export function releaseLine(ending: () => void): void {
  if (end === ending) end = undefined;
}

/** Forgets the held line without ending it: a command that has returned holds nothing (runCli's finally). */
export function releaseAllLines(): void {
  end = undefined;
}

/** Ends the held line, if any (its owner draws it again when it next writes). Never throws. */
export function endHeldLine(): void {
  const ending = end;
  end = undefined;
  try {
    ending?.();
  } catch {
    // What comes next is written regardless.
  }
}
