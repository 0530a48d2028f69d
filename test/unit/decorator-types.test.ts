/**
 * Type-level checks: handler arguments are typed from the zod schemas, for decorators and plain
 * functions alike. `npx tsc -p tsconfig.json` checks this file: every `@ts-expect-error` must
 * mark a real type error (an unused one is itself an error), and everything else must compile.
 * The runtime tests below only make sure the well-typed declarations also register.
 */
import { z } from 'zod';
import { prompt, resource, tool } from '../../src/server/decorators.js';
import { HTTMCP } from '../../src/server/httmcp.js';
import type { ArgsOf, Context, ResourceContext, TemplateVariables } from '../../src/server/types.js';

/** Compile-time equality of two types. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_: T = true as T): void {}

// --- Type utilities ----------------------------------------------------------------------------

assertType<Equal<TemplateVariables<'users://{id}/posts/{post}'>, 'id' | 'post'>>();
assertType<Equal<TemplateVariables<'docs://readme'>, never>>();
assertType<Equal<TemplateVariables<'files://{+path}'>, 'path'>>();
assertType<Equal<TemplateVariables<'search://all{?query}'>, 'query'>>();
// One expression may list several variables (RFC 6570); the SDK hands the handler each by name.
assertType<Equal<TemplateVariables<'search://all{?query,page}'>, 'query' | 'page'>>();
assertType<Equal<TemplateVariables<'x://{/segments*}'>, 'segments'>>();
assertType<Equal<ArgsOf<{ a: z.ZodNumber; b: z.ZodDefault<z.ZodString> }>, { a: number; b: string }>>();
assertType<Equal<ArgsOf<undefined>, Record<string, never>>>();

// --- Decorated methods: correct signatures compile -----------------------------------------------

class WellTyped {
  @tool({ input: { a: z.number(), b: z.number() } })
  add({ a, b }: { a: number; b: number }) {
    return a + b;
  }

  @tool({ input: { count: z.number().int().default(1), label: z.string().optional() } })
  defaults({ count, label }: { count: number; label?: string | undefined }) {
    return `${label ?? ''}${count}`;
  }

  @tool({ input: { name: z.string().transform((s) => s.length) } })
  transformed({ name }: { name: number }) {
    return name;
  }

  @tool({ input: { q: z.string() } })
  async withContext({ q }: { q: string }, ctx: Context) {
    await ctx.progress(1);
    return q;
  }

  @tool({ input: { n: z.number() }, output: { doubled: z.number() } })
  structured({ n }: { n: number }) {
    return { doubled: n * 2 };
  }

  @tool()
  noInput() {
    return 'ok';
  }

  @resource('users://{id}/posts/{post}')
  post({ id, post }: { id: string; post: string }, ctx: ResourceContext) {
    return `${id}/${post} at ${ctx.uri.href}`;
  }

  @resource('docs://readme')
  readme() {
    return 'readme';
  }

  @prompt({ args: { code: z.string(), language: z.string().optional() } })
  review({ code, language }: { code: string; language?: string | undefined }) {
    return `${language ?? 'code'}: ${code}`;
  }
}

// --- Decorated methods: mismatched signatures do not compile -------------------------------------

class IllTyped {
  // @ts-expect-error input says a is a number, the method takes a string
  @tool({ input: { a: z.number() } })
  wrongType({ a }: { a: string }) {
    return a;
  }

  // @ts-expect-error the method wants an argument the input schema does not have
  @tool({ input: { a: z.number() } })
  extraArgument({ a, b }: { a: number; b: string }) {
    return a + b;
  }

  // @ts-expect-error the enum is 'fast' | 'exact'; the method claims it may be 'slow'
  @tool({ input: { mode: z.enum(['fast', 'exact']) } })
  wrongEnum({ mode }: { mode: 'fast' | 'slow' }) {
    return mode;
  }

  // @ts-expect-error the output schema wants a number, the method returns a string
  @tool({ input: { n: z.number() }, output: { doubled: z.number() } })
  wrongOutput({ n }: { n: number }) {
    return { doubled: String(n * 2) };
  }

  // @ts-expect-error the template has {id}, the method reads {name}
  @resource('users://{id}')
  wrongVariable({ name }: { name: string }) {
    return name;
  }

  // @ts-expect-error prompt arguments are strings; the method takes a number
  @prompt({ args: { code: z.string() } })
  wrongPromptArgs({ code }: { code: number }) {
    return String(code);
  }

  // @ts-expect-error a prompt must return text or messages, not a number
  @prompt({ args: { code: z.string() } })
  wrongPromptReturn({ code }: { code: string }) {
    return code.length;
  }
}

// --- Plain functions: arguments are inferred from the schema ------------------------------------

const typed = new HTTMCP({ name: 'typed', version: '1' })
  .tool('add', { input: { a: z.number(), b: z.number().default(0) } }, ({ a, b }) => {
    assertType<Equal<typeof a, number>>();
    assertType<Equal<typeof b, number>>();
    // @ts-expect-error a is a number
    const s: string = a;
    return s;
  })
  .tool('opt', { input: { tag: z.string().optional() } }, ({ tag }) => {
    assertType<Equal<typeof tag, string | undefined>>();
    return tag ?? '';
  })
  .tool('none', {}, (args) => {
    assertType<Equal<typeof args, Record<string, never>>>();
    return '';
  })
  .tool('structured', { output: { count: z.number() } }, () => ({ count: 1 }))
  // @ts-expect-error the output schema wants count to be a number
  .tool('badStructured', { output: { count: z.number() } }, () => ({ count: 'one' }))
  .resource('post', 'users://{id}/posts/{post}', {}, (variables) => {
    assertType<Equal<typeof variables, { id: string; post: string }>>();
    // @ts-expect-error there is no {name} in the template
    return variables.name;
  })
  .prompt('review', { args: { code: z.string() } }, ({ code }) => {
    assertType<Equal<typeof code, string>>();
    return code;
  });

describe('decorator typing', () => {
  test('the well-typed declarations register', () => {
    const server = new HTTMCP({ name: 'types', version: '1' }).register(new WellTyped());
    expect(server.catalog).toEqual({
      tools: ['add', 'defaults', 'transformed', 'withContext', 'structured', 'noInput'],
      resources: ['post', 'readme'],
      prompts: ['review'],
    });
    expect(typed.catalog.tools).toEqual(['add', 'opt', 'none', 'structured', 'badStructured']);
  });

  test('type errors do not change what the decorators register at run time', () => {
    // The checks above are compile-time; at run time the decorators still collect the methods.
    const server = new HTTMCP({ name: 'ill', version: '1' }).register(new IllTyped());
    expect(server.catalog.tools).toHaveLength(4);
  });
});
