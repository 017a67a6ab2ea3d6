/** Typed-array image operations and stage-I sample generation. */
export * from './image-ops';
export * from './ssl-sample';
