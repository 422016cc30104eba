/** Entry of the playground bundle (dist/playground/playground.js): mounts the page into #app. */
import { mountPlayground } from './page.js';

const root = document.getElementById('app');
if (root) void mountPlayground(root, location.search);
