// Copy plotly.js's standalone bundle next to the Python package so that the
// headless HTML report can inline it (a self-contained page, no CDN).
const fs = require('fs');
const path = require('path');

const source = require.resolve('plotly.js-dist-min/plotly.min.js');
const targetDir = path.join(
  __dirname,
  '..',
  'python',
  'memory_doctor',
  'static'
);
fs.mkdirSync(targetDir, { recursive: true });
fs.copyFileSync(source, path.join(targetDir, 'plotly.min.js'));
