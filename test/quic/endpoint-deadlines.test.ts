// The UDP endpoint's timer queue (src/server/quic/deadlines.ts): one timer for all connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DeadlineQueue } from '../../src/server/quic/deadlines.js';

test('DeadlineQueue: earliest first, rescheduling replaces, clearing and forgetting remove', () => {
  const queue = new DeadlineQueue<string>();
  queue.schedule('a', 30);
  queue.schedule('b', 10);
  queue.schedule('c', 20);
  assert.equal(queue.peek(), 10);
  queue.schedule('b', 40); // later: the old entry at 10 must not fire
  assert.equal(queue.peek(), 20);
  queue.schedule('c', undefined);
  queue.forget('a');
  assert.equal(queue.peek(), 40);
  assert.deepEqual(queue.due(39), []);
  assert.deepEqual(queue.due(40), ['b']);
  assert.equal(queue.peek(), undefined);
  assert.deepEqual(queue.due(1000), [], 'a key fires once per schedule');
});

test('DeadlineQueue matches a naive model under random schedules (fast-check)', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined }), fc.boolean()), { maxLength: 300 }), (operations) => {
      const queue = new DeadlineQueue<number>();
      const model = new Map<number, number>();
      let now = 0;
      for (const [key, at, advance] of operations) {
        if (advance) {
          now += 50;
          const expected = [...model].filter(([, deadline]) => deadline <= now).map(([k]) => k).sort();
          for (const k of expected) model.delete(k);
          assert.deepEqual(queue.due(now).sort(), expected);
        } else {
          queue.schedule(key, at);
          if (at === undefined) model.delete(key);
          else model.set(key, at);
        }
        const earliest = Math.min(...model.values());
        assert.equal(queue.peek(), model.size === 0 ? undefined : earliest);
      }
    }),
  );
});
