import { DEFAULT_MESSAGE_BUFFER, mayHaveGap, parseLegacyEventId, parseNchanEventId, parseNginxSeconds } from '../../src/session/resume.js';

const NOW = 1_795_286_000;
const at = (seconds: number) => (NOW + seconds) * 1000;

describe('nchan event ids', () => {
  test.each([
    ['1795286803:3', 1795286803, 3],
    ['1795286803:[0],-', 1795286803, 0],
    ['1795286803:[2],5', 1795286803, 2],
    ['1795286803:-,[0]', 1795286803, undefined],
    ['1795286803:4,[0]', 1795286803, 4],
  ])('%s is time %d, session tag %s', (raw, time, tag) => {
    expect(parseNchanEventId(raw)).toEqual({ raw, time, tag });
  });

  test.each(['', '0:0', '1:', ':1', '1795286803:-,-', '1795286803:[0],[0]', '1795286803:[0],0,0', '1795286803:0,0', '1795286803:999999', 'x:1', '1795286803:[0],-\n'])(
    'refuses %j (nchan would answer 400)',
    (raw) => {
      expect(parseNchanEventId(raw)).toBeUndefined();
    },
  );

  test('legacy ids carry the session before a tilde', () => {
    expect(parseLegacyEventId('abc.def~1795286803:[1],-')).toEqual({ session: 'abc.def', after: { raw: '1795286803:[1],-', time: 1795286803, tag: 1 } });
    expect(parseLegacyEventId('abc.def~junk')).toEqual({ session: 'abc.def', after: undefined });
    expect(parseLegacyEventId('1795286803:[1],-')).toBeUndefined();
    expect(parseLegacyEventId('not a session~1:1')).toBeUndefined();
    expect(parseLegacyEventId(undefined)).toBeUndefined();
  });
});

describe('mayHaveGap', () => {
  const after = parseNchanEventId(`${NOW}:[3],-`)!;
  const buffer = DEFAULT_MESSAGE_BUFFER;

  test('nothing published since the client last saw: no gap, however old', () => {
    expect(mayHaveGap({ messages: 0, subscribers: 0, lastMessageId: `${NOW}:3` }, after, buffer, at(100_000))).toBe(false);
  });

  test('recent id, buffer not full: everything since is still kept', () => {
    expect(mayHaveGap({ messages: 10, subscribers: 0, lastMessageId: `${NOW + 5}:0` }, after, buffer, at(30))).toBe(false);
  });

  test('id older than the message timeout: what followed may have expired', () => {
    expect(mayHaveGap({ messages: 10, subscribers: 0, lastMessageId: `${NOW + 5}:0` }, after, buffer, at(buffer.timeoutSeconds))).toBe(true);
  });

  test('buffer full: older messages may have been pushed out', () => {
    expect(mayHaveGap({ messages: buffer.length, subscribers: 0, lastMessageId: `${NOW + 5}:0` }, after, buffer, at(30))).toBe(true);
  });

  test('the channel is gone (expired, or Redis lost it) after the client saw events', () => {
    expect(mayHaveGap(undefined, after, buffer, at(1))).toBe(true);
  });

  test('no usable id: a full buffer may not reach back far enough', () => {
    expect(mayHaveGap({ messages: 3, subscribers: 0 }, undefined, buffer, at(1))).toBe(false);
    expect(mayHaveGap({ messages: buffer.length, subscribers: 0 }, undefined, buffer, at(1))).toBe(true);
  });
});

test('nginx times', () => {
  expect(parseNginxSeconds('600')).toBe(600);
  expect(parseNginxSeconds('10m')).toBe(600);
  expect(parseNginxSeconds('1h')).toBe(3600);
  expect(parseNginxSeconds('2d')).toBe(172_800);
  expect(() => parseNginxSeconds('ten minutes')).toThrow(/not an nginx time/);
});
