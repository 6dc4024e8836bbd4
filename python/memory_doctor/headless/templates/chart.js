// Runs in the page: builds the two plotly traces from the embedded data.
(function () {
  var points = JSON.parse(document.getElementById('md-chart-data').textContent);
  var x = points.map(function (p) {
    return p.label;
  });
  var text = points.map(function (p) {
    return p.cell_id + ': ' + p.preview;
  });
  // One line of the chart: the figure `key` of each cell, in MB.
  function trace(name, key, short, line) {
    return {
      name: name,
      x: x,
      y: points.map(function (p) {
        return p[key] === null ? null : p[key] / 1e6;
      }),
      text: text,
      mode: 'lines+markers',
      type: 'scatter',
      line: line,
      hovertemplate: '%{x} %{y:.1f} MB<br>%{text}<extra>' + short + '</extra>'
    };
  }
  Plotly.newPlot(
    'md-chart',
    [
      trace('RSS after cell', 'rss_after', 'RSS after', {}),
      trace('Peak RSS during cell', 'peak_rss', 'Peak RSS', { dash: 'dot' })
    ],
    {
      margin: { l: 60, r: 20, t: 10, b: 50 },
      hovermode: 'closest',
      xaxis: { title: { text: 'cell (index in notebook)' }, type: 'category' },
      yaxis: { title: { text: 'MB' }, rangemode: 'tozero' },
      legend: { orientation: 'h', y: -0.2 }
    },
    { displaylogo: false, responsive: true }
  );
})();
