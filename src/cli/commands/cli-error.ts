/** A mistake on the command line or a refusal; printed without a stack. */
export class CliError extends Error {
  override name = 'CliError';
}
