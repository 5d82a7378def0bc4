import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { toAsyncIterable } from '../src/operators/to-async-iterable.js';

const iterate = <T>(subject: Subject<T>) => toAsyncIterable(subject)[Symbol.asyncIterator]();

describe('toAsyncIterable', () => {
  it('gives overlapping next() calls the next values in order, as an async generator does', async () => {
    const subject = new Subject<number>();
    const it = iterate(subject);
    const both = Promise.all([it.next(), it.next()]);
    subject.next(1);
    subject.next(2);
    expect(await both).toEqual([{ value: 1, done: false }, { value: 2, done: false }]);
    const third = it.next();
    subject.complete();
    expect(await third).toEqual({ value: undefined, done: true });
  });

  it('settles a pending next() when return() is called, and is done from then on', async () => {
    const subject = new Subject<number>();
    const it = iterate(subject);
    subject.next(1);
    subject.next(2);
    expect(await it.next()).toEqual({ value: 1, done: false });
    const pending = [it.next(), it.next()]; // the first takes the buffered 2, the second waits
    expect(await pending[0]).toEqual({ value: 2, done: false });
    expect(await it.return!()).toEqual({ value: undefined, done: true });
    expect(await pending[1]).toEqual({ value: undefined, done: true });
    expect(subject.observed).toBe(false); // return() unsubscribed
    subject.next(3);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('drops buffered values at return()', async () => {
    const subject = new Subject<number>();
    const it = iterate(subject);
    subject.next(1);
    subject.next(2);
    subject.next(3);
    expect(await it.next()).toEqual({ value: 1, done: false });
    await it.return!();
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('delivers buffered values before an error, the error once, then the end', async () => {
    const subject = new Subject<number>();
    const it = iterate(subject);
    subject.next(1);
    subject.error(new Error('boom'));
    expect(await it.next()).toEqual({ value: 1, done: false });
    await expect(it.next()).rejects.toThrow('boom');
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('rejects a waiting reader with the error, and ends the readers behind it', async () => {
    const subject = new Subject<number>();
    const it = iterate(subject);
    const first = it.next();
    const second = it.next();
    subject.error(new Error('late'));
    await expect(first).rejects.toThrow('late');
    expect(await second).toEqual({ value: undefined, done: true });
  });
});
