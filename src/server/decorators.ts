import type { ZodRawShape } from 'zod';
import type {
  ArgsOf,
  Context,
  Definition,
  MaybePromise,
  PromptOptions,
  PromptReturn,
  ResourceContext,
  ResourceOptions,
  ResourceReturn,
  TemplateVariables,
  ToolOptions,
  ToolReturn,
} from './types.js';

/** Definitions collected from decorated methods, per instance. */
const decorated = new WeakMap<object, Definition[]>();

/** The definitions the decorators collected on `instance` (empty when none). */
export function definitionsOf(instance: object): readonly Definition[] {
  return decorated.get(instance) ?? [];
}

function collect(instance: object, definition: Definition): void {
  const list = decorated.get(instance);
  if (list) list.push(definition);
  else decorated.set(instance, [definition]);
}

/**
 * Declares a method as an MCP tool (standard TC39 decorator; no `experimentalDecorators`).
 * The method's first parameter is checked against the `input` shape.
 *
 * @example
 * class Calculator {
 *   @tool({ description: 'Add two numbers', input: { a: z.number(), b: z.number() } })
 *   add({ a, b }: { a: number; b: number }) { return a + b }
 * }
 */
export function tool<I extends ZodRawShape | undefined = undefined, O extends ZodRawShape | undefined = undefined>(
  options: ToolOptions<I, O> = {},
) {
  return function <This extends object>(
    method: (this: This, args: ArgsOf<I>, ctx: Context) => MaybePromise<ToolReturn<O>>,
    context: ClassMethodDecoratorContext<This>,
  ): void {
    const name = options.name ?? String(context.name);
    context.addInitializer(function (this: This) {
      collect(this, { kind: 'tool', name, options, handler: method.bind(this) as Definition['handler'] } as Definition);
    });
  };
}

/**
 * Declares a method as an MCP resource. A URI with `{variables}` makes a resource template and
 * the method receives the variables by name.
 *
 * @example
 * class Docs {
 *   @resource('docs://{page}', { description: 'A documentation page', mimeType: 'text/markdown' })
 *   page({ page }: { page: string }) { return pages[page] }
 * }
 */
export function resource<U extends string>(uri: U, options: ResourceOptions = {}) {
  return function <This extends object>(
    method: (this: This, variables: { [K in TemplateVariables<U>]: string }, ctx: ResourceContext) => MaybePromise<ResourceReturn>,
    context: ClassMethodDecoratorContext<This>,
  ): void {
    const name = options.name ?? String(context.name);
    context.addInitializer(function (this: This) {
      collect(this, { kind: 'resource', name, uri, options, handler: method.bind(this) as Definition['handler'] } as Definition);
    });
  };
}

/**
 * Declares a method as an MCP prompt. Its arguments are typed from the `args` shape.
 *
 * @example
 * class Prompts {
 *   @prompt({ description: 'Review code', args: { code: z.string() } })
 *   review({ code }: { code: string }) { return `Please review:\n${code}` }
 * }
 */
export function prompt<A extends ZodRawShape | undefined = undefined>(options: PromptOptions<A> = {}) {
  return function <This extends object>(
    method: (this: This, args: ArgsOf<A>, ctx: Context) => MaybePromise<PromptReturn>,
    context: ClassMethodDecoratorContext<This>,
  ): void {
    const name = options.name ?? String(context.name);
    context.addInitializer(function (this: This) {
      collect(this, { kind: 'prompt', name, options, handler: method.bind(this) as Definition['handler'] } as Definition);
    });
  };
}
