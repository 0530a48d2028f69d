import { FilterError, listChannel, parseFilter, resourceChannel, stamped, subscriptionIdText } from '../../src/listen/index.js';

const LIMITS = { uris: 3, uriBytes: 32 };

describe('parseFilter', () => {
  test('honours what was asked for: true flags, each URI once in order; false flags and unknown members are left out', () => {
    expect(parseFilter({ notifications: { toolsListChanged: true, promptsListChanged: false, taskIds: ['t'], resourceSubscriptions: ['a://1', 'a://2', 'a://1'] } }, LIMITS)).toEqual({
      toolsListChanged: true,
      resourceSubscriptions: ['a://1', 'a://2'],
    });
    expect(parseFilter({ notifications: {} }, LIMITS)).toEqual({});
    expect(parseFilter({ notifications: { resourceSubscriptions: [] } }, LIMITS)).toEqual({});
  });

  test.each([
    [undefined, /needs params/],
    [{}, /must be an object/],
    [{ notifications: null }, /must be an object/],
    [{ notifications: { resourcesListChanged: 1 } }, /resourcesListChanged must be a boolean/],
    [{ notifications: { resourceSubscriptions: {} } }, /must be an array/],
    [{ notifications: { resourceSubscriptions: [null] } }, /non-empty strings/],
    [{ notifications: { resourceSubscriptions: ['a://1', 'a://2', 'a://3', 'a://4'] } }, /names 4 URIs; a listen stream takes at most 3 \(setting HTTMCP_MAX_LISTEN_URIS\)/],
    [{ notifications: { resourceSubscriptions: [`a://${'x'.repeat(40)}`] } }, /longer than 32 bytes \(setting HTTMCP_MAX_SUBSCRIPTION_URI\)/],
    [{ notifications: { resourceSubscriptions: ['a://@@SUBSCRIPTION_ID@@'] } }, /reserves/],
  ])('refuses %j', (params, message) => {
    expect(() => parseFilter(params, LIMITS)).toThrow(FilterError);
    expect(() => parseFilter(params, LIMITS)).toThrow(message);
  });
});

describe('subscriptionIdText', () => {
  test('the JSON text of a string or safe integer id in printable ASCII', () => {
    expect(subscriptionIdText('listen:1')).toBe('"listen:1"');
    expect(subscriptionIdText(7)).toBe('7');
    expect(subscriptionIdText('a"b\\c')).toBe('"a\\"b\\\\c"');
  });

  test.each([[1.5], [null], [{}], ['é'], ['del\u007f'], ['x'.repeat(255)], [2 ** 60]])('%j cannot stand in a header and in JSON', (id) => {
    expect(subscriptionIdText(id)).toBeUndefined();
  });
});

test('channel ids are short and made of safe characters, one per server and URI', () => {
  const id = resourceChannel('notes', 'file:///a b/ü?x=1');
  expect(id).toMatch(/^httmcp\.res\.[A-Za-z0-9_-]{22}$/);
  expect(resourceChannel('notes', 'file:///a b/ü?x=1')).toBe(id);
  expect(resourceChannel('other', 'file:///a b/ü?x=1')).not.toBe(id);
  expect(listChannel('notes', 'tools')).toBe('httmcp.list.notes.tools');
});

test('a stamped notification carries the stand-in nginx replaces per stream', () => {
  expect(JSON.parse(stamped('notifications/resources/updated', { uri: 'a://1' }))).toEqual({
    jsonrpc: '2.0',
    method: 'notifications/resources/updated',
    params: { uri: 'a://1', _meta: { 'io.modelcontextprotocol/subscriptionId': '@@SUBSCRIPTION_ID@@' } },
  });
  expect(stamped('notifications/tools/list_changed')).toContain('"@@SUBSCRIPTION_ID@@"');
});
