/**
 * Line profiles: the per-notebook `ProfileModel` the service writes, the
 * icicle chart and the panel's "Line profile" section.
 */

export * from './chart';
export * from './model';
export * from './view';
