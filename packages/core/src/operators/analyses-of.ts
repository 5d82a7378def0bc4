import { filter, type OperatorFunction } from 'rxjs';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import { MAX_ENTRY_NAME_LENGTH } from '../registry/snapshot-entry.js';
import { quoteValue } from '../util/describe-cause.js';
import type { Analyzer } from '../spec/analyzer.js';
import type { AnalysisEvent, GenerationEvent } from '../spec/events.js';

declare const analyzerData: unique symbol;

/**
 * A registered analyzer's name that carries the type of its data: a plain string at run time, so
 * it goes wherever a name does (a request's `analyzers`, `{ name, options }`), and `analysesOf` and
 * `isAnalysisOf` type the events by it. A plugin exports one per analyzer it registers; see
 * {@link analyzerName}.
 */
export type AnalyzerName<TData> = string & { readonly [analyzerData]?: TData };

/**
 * An analyzer instance, or the name its `analysis` events carry: the instance's `name` (for core's
 * and this project's analyzers, the name they are registered under). A typed name
 * ({@link analyzerName}) brings the data's type; with a plain name, give it yourself:
 * `analysesOf<number[]>('entropy')`.
 */
export type AnalyzerRef<TData> = Analyzer<TData> | AnalyzerName<TData> | string;


/**
 * Types a registered analyzer's name by the data its events carry, for a plugin to export beside
 * the analyzer it registers, so that its users read the events without naming the type:
 *
 * @example
 * // in the plugin package
 * export const entropy = analyzerName<number[]>('acme-entropy');
 * // in an app
 * model.generate({ prompt, analyzers: [entropy] }).pipe(analysesOf(entropy)) // AnalysisEvent<number[]>
 *
 * Pass no type argument where a typed name is used: `analysesOf(entropy)` infers the type, while
 * `analysesOf<string>(entropy)` compiles too (any string fits a typed name) and would mistype it.
 *
 * @throws InvalidOptionsError when `name` could not be a registered name: a string that is not
 *   blank, of at most 214 characters (the registry's rule).
 */
export function analyzerName<TData>(name: string): AnalyzerName<TData> {
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_ENTRY_NAME_LENGTH) {
    const got = typeof name === 'string' && name.length > MAX_ENTRY_NAME_LENGTH ? `a string of ${name.length} characters` : quoteValue(name);
    throw new InvalidOptionsError(`analyzerName takes the name the analyzer is registered under: a string that is not blank, of at most ${MAX_ENTRY_NAME_LENGTH} characters (got ${got}).`, {
      option: 'name',
    });
  }
  return name;
}

/**
 * Whether `event` is an `analysis` event of `analyzer`; narrows its `data` to the analyzer's type.
 *
 * @example for await (const e of toAsyncIterable(events)) if (isAnalysisOf(e, entropy)) sum += e.data[0];
 */
export function isAnalysisOf<TData>(event: GenerationEvent, analyzer: AnalyzerRef<TData>): event is AnalysisEvent<TData> {
  return event.type === 'analysis' && event.analyzer === nameOf(analyzer);
}

/**
 * Keeps the `analysis` events of one analyzer, typed by its data.
 *
 * @example model.generate({ prompt, analyzers: [entropy] }).pipe(analysesOf(entropy)).subscribe((e) => log(e.step, e.data));
 */
export function analysesOf<TData>(analyzer: AnalyzerRef<TData>): OperatorFunction<GenerationEvent, AnalysisEvent<TData>> {
  const name = nameOf(analyzer);
  return filter((event): event is AnalysisEvent<TData> => event.type === 'analysis' && event.analyzer === name);
}

function nameOf(analyzer: AnalyzerRef<unknown>): string {
  if (typeof analyzer === 'string') return analyzer;
  const name: unknown = (analyzer as { name?: unknown } | null)?.name;
  if (typeof name !== 'string') throw new InvalidOptionsError('analysesOf and isAnalysisOf take an analyzer (with a string name) or its name.', { option: 'analyzer' });
  return name;
}
