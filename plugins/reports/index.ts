import { definePlugin, type HandlerContext } from '../../src/sdk/index.ts';
import { deliverPayloadSchema, deliverReport } from './deliver.ts';
import { generateReport, type ReportFormat, type ReportState } from './generate.ts';
import { reportSpecSchema, type ReportSpec } from './spec.ts';

/** A handler that makes one report format, saving its progress on the job. */
function reportHandler(format: ReportFormat) {
  return (spec: ReportSpec, ctx: HandlerContext) =>
    generateReport(
      format,
      spec,
      ctx,
      () => ctx.checkpoint.get<ReportState>(),
      (state) => ctx.checkpoint.set(state),
    );
}

export default definePlugin({
  name: 'reports',
  version: '1.0.0',
  jobs: {
    'report.pdf': {
      description: 'Make a PDF report (title, paginated table, totals) from inline rows or a paged JSON source.',
      schema: reportSpecSchema,
      handler: reportHandler('pdf'),
      defaults: { timeoutMs: 30 * 60_000 },
    },
    'report.excel': {
      description: 'Make an .xlsx report with a streaming writer, from inline rows or a paged JSON source.',
      schema: reportSpecSchema,
      handler: reportHandler('excel'),
      defaults: { timeoutMs: 60 * 60_000 },
    },
    'report.deliver': {
      description: 'Make a PDF or Excel report, then email it as an attachment or POST it to a webhook.',
      schema: deliverPayloadSchema,
      handler: deliverReport,
      defaults: { timeoutMs: 60 * 60_000 },
    },
  },
});

