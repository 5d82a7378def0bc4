import { filter, type OperatorFunction } from 'rxjs';
import { InvalidOptionsError } from '../errors/invalid-options-error.js';
import type { Analyzer } from '../spec/analyzer.js';
import type { AnalysisEvent, GenerationEvent } from '../spec/events.js';

/**
 * An analyzer instance, or the name its `analysis` events carry: the instance's `name` (for core's
 * and this project's analyzers, the name they are registered under). With a name, give the data's
 * type yourself: `analysesOf<number[]>('entropy')`.
 */
export type AnalyzerRef<TData> = Analyzer<TData> | string;

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
