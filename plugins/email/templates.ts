import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PermanentError } from '../../src/sdk/index.ts';

/** Template names: no slashes or dots, so a payload cannot reach outside the folder. */
export const TEMPLATE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/i;

/** A message's rendered parts. */
export interface RenderedMessage {
  subject?: string;
  html?: string;
  text?: string;
}

/**
 * Renders template `name` from `dir` with `data`: `<name>.html.hbs` (escaped
 * HTML), `<name>.text.hbs` and `<name>.subject.hbs` (plain). At least the HTML
 * or the text file must exist. Files are read on every call, so an edited
 * template applies to the next email without a restart.
 */
export async function renderTemplate(dir: string, name: string, data: Record<string, unknown>): Promise<RenderedMessage> {
  if (!TEMPLATE_NAME.test(name)) {
    throw new PermanentError(`template name ${name} is not allowed`, { reason: 'unknown_template' });
  }

  const [html, text, subject] = await Promise.all(
    ['html', 'text', 'subject'].map((part) => readOptional(join(dir, `${name}.${part}.hbs`))),
  );
  if (html === undefined && text === undefined) {
    throw new PermanentError(`no template named ${name} in ${dir}`, { reason: 'unknown_template' });
  }

  // Loaded on first use, so processes that never render a template do not pay for it.
  const { default: handlebars } = await import('handlebars');
  const render = (source: string, plain: boolean) => renderWith(handlebars, name, source, plain, data);
  return {
    html: html === undefined ? undefined : render(html, false),
    text: text === undefined ? undefined : render(text, true),
    subject: subject === undefined ? undefined : render(subject, true).trim(),
  };
}

/**
 * A plain-text part made from HTML, for messages that bring only HTML:
 * tags dropped, block ends turned into line breaks, common entities decoded.
 */
export function htmlToText(html: string): string {
  return html
    .replace(/<(style|script|head)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|h[1-6]|li|tr)>/gi, '\n')
    .replace(/<a\s[^>]*href="([^"]*)"[^>]*>([\s\S]*?)<\/a>/gi, '$2 ($1)')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Handlebars compiles lazily: a syntax error shows on the first render, caught here. */
function renderWith(
  handlebars: typeof import('handlebars'),
  name: string,
  source: string,
  plain: boolean,
  data: Record<string, unknown>,
): string {
  try {
    return handlebars.compile(source, { noEscape: plain })(data);
  } catch (err) {
    throw new PermanentError(`template ${name} does not compile: ${(err as Error).message}`, { reason: 'bad_template' });
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
