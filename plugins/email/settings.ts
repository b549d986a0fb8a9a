import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { z } from '../../src/sdk/index.ts';

/** The example templates that ship with the plugin. */
export const BUILTIN_TEMPLATES_DIR = fileURLToPath(new URL('./templates', import.meta.url));

/** `plugins.settings.email`: the SMTP server and where templates live. */
export const settingsSchema = z
  .object({
    smtp: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(1).max(65535).default(25),
        /** TLS from the first byte (port 465); otherwise STARTTLS when offered. */
        secure: z.boolean().default(false),
        /** Refuse to send without STARTTLS. */
        requireTLS: z.boolean().default(false),
        /** Never use STARTTLS, even when offered (local test servers). */
        ignoreTLS: z.boolean().default(false),
        auth: z.object({ user: z.string().min(1), pass: z.string().min(1) }).optional(),
        connectionTimeoutMs: z.number().int().min(100).default(10_000),
        socketTimeoutMs: z.number().int().min(100).default(30_000),
      })
      .prefault({}),
    /** Sender used when a payload names none, e.g. `Shop <noreply@shop.example>`. */
    from: z.string().min(3).default('TaskMaster <noreply@localhost>'),
    /** Folder of `<name>.html.hbs`, `<name>.text.hbs` and `<name>.subject.hbs` files. */
    templatesDir: z.string().min(1).default(BUILTIN_TEMPLATES_DIR),
  })
  .prefault({});

export type EmailSettings = z.infer<typeof settingsSchema>;

/** The plugin settings with defaults; a relative templates folder is taken from the working directory. */
export function readSettings(raw: unknown): EmailSettings {
  const settings = settingsSchema.parse(raw ?? {});
  return { ...settings, templatesDir: resolve(settings.templatesDir) };
}
