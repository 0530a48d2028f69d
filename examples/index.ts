import type { HTTMCP } from '../src/index.js';
import { createDemoServer } from './demo.js';
import { createEverythingServer } from './everything.js';
import { createNotesServer } from './notes.js';

/** Every example server, fresh instances. `httmcp start` serves these. */
export function createExampleServers(): HTTMCP[] {
  return [createDemoServer(), createNotesServer(), createEverythingServer()];
}

export default createExampleServers;
