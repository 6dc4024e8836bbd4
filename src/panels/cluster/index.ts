/**
 * The side panel's "On the cluster" section: the Dask clusters of the
 * followed kernel, their workers and the names holding keys on them.
 */

export * from './model';
export * from './text';
export * from './view';
