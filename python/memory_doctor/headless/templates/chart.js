(function () {
  var points = JSON.parse(document.getElementById('md-chart-data').textContent);
  function mb(v) { return v === null ? null : v / 1e6; }
  var x = points.map(function (p) { return p.label; });
  var text = points.map(function (p) { return p.cell_id + ': ' + p.preview; });
  var traces = [
    {name: 'RSS after cell', x: x, y: points.map(function (p) { return mb(p.rss_after); }),
     text: text, mode: 'lines+markers', type: 'scatter',
     hovertemplate: '%{x} %{y:.1f} MB<br>%{text}<extra>RSS after</extra>'},
    {name: 'Peak RSS during cell', x: x, y: points.map(function (p) { return mb(p.peak_rss); }),
     text: text, mode: 'lines+markers', type: 'scatter', line: {dash: 'dot'},
     hovertemplate: '%{x} %{y:.1f} MB<br>%{text}<extra>Peak RSS</extra>'}
  ];
  Plotly.newPlot('md-chart', traces, {
    margin: {l: 60, r: 20, t: 10, b: 50}, hovermode: 'closest',
    xaxis: {title: {text: 'cell (index in notebook)'}, type: 'category'},
    yaxis: {title: {text: 'MB'}, rangemode: 'tozero'},
    legend: {orientation: 'h', y: -0.2}
  }, {displaylogo: false, responsive: true});
})();
