/**
 * plotly.js for the panel's charts (the holders treemap and the timeline):
 * imported dynamically the first time a chart is shown, so JupyterLab's
 * start-up never pays for its 4 MB, and made safe for user-derived text.
 */

/** The part of plotly's API the panel's charts use. */
export interface IPlotly {
  react(
    root: HTMLElement,
    data: unknown[],
    layout: Record<string, unknown>,
    config: Record<string, unknown>
  ): Promise<unknown>;
  purge(root: HTMLElement): void;
  Plots?: { resize(root: HTMLElement): unknown };
}

/** Loads plotly; replaceable in tests. */
export type PlotlyLoader = () => Promise<IPlotly>;

/** The pending or finished plotly import, shared by every view. */
let pendingPlotly: Promise<IPlotly> | null = null;

/**
 * Import plotly.js once, on first call. Webpack turns the dynamic import
 * into a separate chunk that is fetched only then.
 */
export const loadPlotly: PlotlyLoader = () => {
  if (!pendingPlotly) {
    pendingPlotly = import('plotly.js-dist-min').then(module => {
      // A CommonJS bundle: webpack and jest put it under `default`.
      const value = module as unknown as { default?: IPlotly } & IPlotly;
      return value.default ?? value;
    });
    // A failed load (e.g. offline chunk) may be retried on the next show.
    pendingPlotly.catch(() => {
      pendingPlotly = null;
    });
  }
  return pendingPlotly;
};

/** A clicked point of a plotly chart: the fields the panels' traces set. */
export interface IPlotlyPoint {
  id?: unknown;
  customdata?: unknown;
}

/**
 * Call `handler` with the points of every click on the plotly chart drawn
 * in `plot`. Returns false, listening to nothing, while plotly has not yet
 * drawn there (it adds `on` to the element when it does).
 */
export function listenForClicks(
  plot: HTMLElement,
  handler: (points: IPlotlyPoint[] | undefined) => void
): boolean {
  const node = plot as HTMLElement & {
    on?: (event: string, handler: (data: unknown) => void) => void;
  };
  if (typeof node.on !== 'function') {
    return false;
  }
  node.on('plotly_click', data =>
    handler((data as { points?: IPlotlyPoint[] })?.points)
  );
  return true;
}

/**
 * Make user-derived text inert for plotly, whose SVG text understands a few
 * HTML-like tags (`<b>`, `<a href>`, `<br>`): encode the characters that
 * could start a tag or an entity, and plotly draws them literally.
 */
export function plotlyText(text: string): string {
  return text.replace(/[&<>]/g, char => Private.ENTITIES[char]);
}

namespace Private {
  export const ENTITIES: Record<string, string> = {
    '&': '&amp;',
    '<': '&lt;',
    // Plotly decodes only a few named entities; these three are among them.
    '>': '&gt;'
  };
}
