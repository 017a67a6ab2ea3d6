// The workflowsPath target of every worker: re-exports workflows only (the pipeline, predictions, template suggestion).
export { cc2dPipeline } from './pipeline';
export { cc2dPredict } from './predict';
export { cc2dSuggestTemplate } from './suggest-template';
