// The workflowsPath target of every worker: re-exports workflows only.
export { cc2dPipeline } from './pipeline';
