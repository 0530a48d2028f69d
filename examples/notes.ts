import { z } from 'zod';
import { HTTMCP } from '../src/index.js';

/** The `notes` server, declared with plain functions: the same features without decorators. */
export function createNotesServer(): HTTMCP {
  const notes = new Map<string, string>();
  return new HTTMCP({ name: 'notes', version: '1.0.0' })
    .tool(
      'add_note',
      { description: 'Store a note under a title', input: { title: z.string().min(1).max(100), text: z.string().max(10_000) } },
      ({ title, text }) => {
        notes.set(title, text);
        return `saved "${title}"`;
      },
    )
    .tool(
      'count_notes',
      { description: 'How many notes are stored', output: { count: z.number().int() } },
      () => ({ count: notes.size }),
    )
    .resource('index', 'notes://index', { description: 'Titles of all notes', mimeType: 'application/json' }, () => [...notes.keys()])
    .resource('note', 'notes://note/{title}', { description: 'One note by title' }, ({ title }) => notes.get(title) ?? `no note "${title}"`)
    .prompt('summarize', { description: 'Summarize a note', args: { title: z.string() } }, ({ title }) => `Summarize this note: ${notes.get(title) ?? ''}`);
}
