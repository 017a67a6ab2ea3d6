// The workflowsPath target of every worker: re-exports workflows only (the pipeline and predictions).
export { cc2dPipeline } from './pipeline';
export { cc2dPredict } from './predict';
