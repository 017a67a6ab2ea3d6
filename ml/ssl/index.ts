/** Stage I (self-supervised cascade embeddings) public API. */
export { createSslTrainer, SSL_REPEATS, sslLearningRate } from './trainer';
export type { SslTrainerInput, SslInit } from './trainer';
export { matchTemplate, cascadeSimilarity, argmax2d, SslMatcher, prototypeDescriptor, prototypePoolIds, prototypeSettingsOf, KEPT_POOL_BYTES } from './matching';
export type { MatchTemplateInput, ImageEmbeddings, EmbeddingLevel, TemplateDescriptor, PrototypeOptions } from './matching';
export { SslNetwork, SSL_LEVELS, loadSslNetwork, encodeSslWeights, SSL_WEIGHTS_KIND, SSL_CHECKPOINT_KIND } from './network';
export type { SslNetConfig, SslEmbeddingMaps, SslWeightsMeta, SslLevel } from './network';
export { sslLoss } from './loss';
export type { SslLossConfig, SslLossTargets, SslLossResult } from './loss';
export { labelRoundTrips, roundTripMask, templateRoundTrips } from './round-trip';
export type { LabelledImage, RoundTripMask, TemplateRoundTripInput } from './round-trip';
export { SUGGEST_SCORE, TEMPLATE_SCORE_METHODS, DEFAULT_CYCLE_PARTNERS, EmbeddingBank, embedIntoBank, templateScores, cycleGrid, cycleScores, medoidScores, rankByScore, HIGHER_IS_BETTER, TEMPLATE_SCORES } from './template-ranking';
export type { CycleOptions, RankedTemplate, TemplateScoreName } from './template-ranking';
