/**
 * Every string the playground shows, one table per language (English, Romanian). A value may hold
 * `{name}` placeholders that `translate` fills. The Romanian table is typed by the English keys, so a key
 * missing from either fails the type check; test/web/playground.test.ts also checks that both tables have
 * the same keys and the same placeholders per key.
 *
 * The claims batchlab checks are "the usual advice" ("sfatul obișnuit"), never anything else.
 */
import type { Lang } from './settings.js';

export const EN = {
  'page.title': 'batchlab playground: batch size at work',
  'page.lead':
    'Train the same small network at two to four batch sizes side by side, from the same initial weights and the same sample order, and watch what the batch size does. Everything runs in this page; nothing is sent anywhere.',
  'page.tabs': 'Views',
  'tab.runs': 'Side by side',
  'tab.landscape': 'Loss landscape',
  'lang.label': 'Language',
  'backend.label': 'Backend',
  'backend.starting': 'starting…',
  'backend.using': 'training on {name}',
  'backend.tried': 'tried: {list}',
  'backend.attempt.ok': '{name} works',
  'backend.attempt.failed': '{name} failed ({reason})',
  'backend.reason.unavailable': 'not available in this browser',
  'backend.reason.init': 'could not start',
  'backend.reason.software': 'no GPU: it would run in software, slower than wasm',
  'link.problems': 'Some settings in the link were not valid and were replaced by defaults: {list}',
  'controls.legend': 'Settings of the runs',
  'field.dataset': 'Dataset',
  'dataset.spiral': 'Spiral, 3 arms (2-D)',
  'dataset.gauss': 'Two Gaussian blobs',
  'dataset.mnist': 'MNIST digits (subset)',
  'field.batchSizes': 'Batch sizes',
  'field.batchSizes.help': '2 to 4 sizes, separated by commas, e.g. 8, 256',
  'field.optimizer': 'Optimizer',
  'optimizer.sgd': 'SGD',
  'optimizer.momentum': 'SGD with momentum',
  'optimizer.adam': 'Adam',
  'field.lr': 'Learning rate',
  'field.lrRule': 'LR for other batch sizes',
  'rule.fixed': 'the same for every batch',
  'rule.linear': 'scaled linearly with B',
  'rule.sqrt': 'scaled with the square root of B',
  'field.baseBatch': 'at batch size',
  'field.hidden': 'Hidden layers',
  'field.hidden.help': 'widths, e.g. 32, 32',
  'field.epochs': 'Epochs',
  'field.seed': 'Seed',
  'field.backend': 'Backend',
  'backend.auto': 'best available',
  'field.invalid': 'Not valid: {field}',
  'button.train': 'Train',
  'button.pause': 'Pause',
  'button.resume': 'Resume',
  'button.reset': 'Reset',
  'button.copyLink': 'Copy link to these settings',
  'button.copied': 'Link copied',
  'button.copyFailed': 'Copy the address from the address bar',
  'status.idle': 'Choose the settings and press Train.',
  'status.loading': 'Loading the data…',
  'status.training': 'Training…',
  'status.paused': 'Paused.',
  'status.done': 'Done: all runs finished.',
  'status.failed': 'Training stopped: {message}',
  'error.batchTooBig': 'batch size {b} is larger than the {n} training samples of this dataset; use at most {n}',
  'runs.heading': 'The runs',
  'runs.empty': 'The runs and their live charts appear here when training starts.',
  'run.title': 'B = {b}',
  'run.lr': 'LR {lr}',
  'run.progress': 'epoch {epoch} of {epochs}, step {step}',
  'run.loss': 'loss {loss}',
  'run.accuracy': 'held-out accuracy {acc}',
  'run.speed': '{sps} samples/s',
  'run.noise': 'B_simple {value}',
  'run.state.waiting': 'waiting',
  'run.state.training': 'training',
  'run.state.done': 'finished',
  'run.state.diverged': 'diverged (the loss became infinite); try a smaller learning rate',
  'charts.heading': 'Live charts',
  'chart.lossSteps': 'Training loss against steps',
  'chart.lossSamples': 'Training loss against samples seen',
  'chart.lossTime': 'Training loss against training time',
  'chart.accuracy': 'Held-out accuracy',
  'chart.speed': 'Training speed',
  'chart.noise': 'Gradient noise scale B_simple',
  'chart.memory': 'Peak memory of a training step',
  'chart.note.lossSteps':
    'One point per update (the loss of that batch), steps on a log scale. A small batch makes many cheap, noisy updates per epoch.',
  'chart.note.lossSamples':
    'The same samples for every run: which batch size learns most per sample? Each point averages the last {n} samples.',
  'chart.note.lossTime':
    'Time spent in training steps on this device, per run. Each point averages the last {n} samples.',
  'chart.note.accuracy': 'Measured on samples the network never trains on.',
  'chart.note.speed': 'Median over the last {n} steps.',
  'chart.note.noise':
    'B_simple = tr(Σ) / |G|², from squared gradient norms at two batch sizes (McCandlish et al. 2018). Batches far below it are dominated by noise.',
  'chart.note.memory':
    'Tensor memory high-water mark of one step, as counted by TF.js (weights, activations, gradients).',
  'axis.steps': 'steps (updates)',
  'axis.samples': 'samples seen',
  'axis.timeS': 'training time (s)',
  'axis.loss': 'training loss (cross-entropy)',
  'axis.lossSmoothed': 'loss (mean of {n} samples)',
  'axis.accuracyPct': 'held-out accuracy (%)',
  'axis.samplesPerSec': 'samples per second',
  'axis.bSimple': 'B_simple (samples)',
  'axis.batch': 'batch size B (samples)',
  'axis.memoryMb': 'peak memory (MB)',
  'series.run': 'B = {b}',
  'effects.heading': 'What these runs show',
  'effects.lead':
    'Each panel puts one claim of the usual advice next to the evidence from the runs you just trained, tested as batchlab tests it: a trend across the batch sizes with a 95% interval.',
  'effect.memory': 'Memory',
  'effect.speed': 'Speed',
  'effect.stability': 'Stability',
  'effect.generalization': 'Generalization',
  'advice.memory': 'The usual advice: a larger batch needs more memory.',
  'advice.speed':
    'The usual advice: larger batches train faster, using the hardware better, though each step takes longer.',
  'advice.stability': 'The usual advice: small batches make training noisier and less stable.',
  'advice.generalization':
    'The usual advice: small batches generalize better; large ones may overfit and end in sharper minima.',
  'why.memory':
    'During a step every sample of the batch keeps its activations and gradients in memory, so the peak grows with B. The weights take the same room at any B.',
  'why.speed':
    'A step has a fixed cost (starting the work, reading the weights) and a cost per sample. A large batch spreads the fixed cost over more samples, until the device is busy.',
  'why.stability':
    'A batch gradient averages its samples; more samples cancel more of their disagreement. B_simple estimates the batch size beyond which adding samples stops helping much.',
  'why.generalization':
    'Held-out accuracy is measured on samples the network never trained on; the gap is training accuracy minus held-out accuracy. Sharpness says how steeply the loss rises around the point a run ended in (the Loss landscape view shows why it may matter).',
  'see.label': 'See the charts:',
  'result.memory': 'Peak memory went from {lo} MB at B = {bLo} to {hi} MB at B = {bHi}.',
  'result.speed': 'Speed went from {lo} to {hi} samples/s (B = {bLo} to {bHi}); a step took {msLo} ms and {msHi} ms.',
  'result.stability':
    'Loss noise (spread of the loss around its moving average) went from {lo} at B = {bLo} to {hi} at B = {bHi}.',
  'result.noiseScale': 'B_simple at the end: {list}.',
  'result.accuracy': 'Held-out accuracy after the same number of epochs: {list}.',
  'result.gap': 'Generalization gap (train minus held-out accuracy): {list}.',
  'result.sharpness': 'Sharpness at the end (top eigenvalue of the Hessian of the training loss): {list}.',
  'result.pending': 'The evidence appears when the runs finish.',
  'result.notMeasured': 'not measured',
  'verdict.label': 'Verdict',
  'verdict.agrees': 'agrees with the usual advice',
  'verdict.contradicts': 'contradicts the usual advice',
  'verdict.inconclusive': 'inconclusive',
  'verdict.pending': 'waiting for the runs to finish',
  'claim.memory': 'peak memory',
  'claim.samples-per-sec': 'speed (samples/s)',
  'claim.step-time': 'time per step',
  'claim.loss-noise': 'loss noise',
  'claim.gradient-noise': 'gradient noise per sample of the batch (B_simple / B)',
  'claim.held-out-accuracy': 'held-out accuracy',
  'claim.generalization-gap': 'generalization gap',
  'claim.sharpness': 'sharpness',
  'trend.factor': '{claim}: ×{factor} per doubling of B (95% interval ×{low} to ×{high})',
  'trend.factorExact': '{claim}: ×{factor} per doubling of B (counted exactly)',
  'trend.points': '{claim}: {slope} percentage points per doubling of B (95% interval {low} to {high})',
  'trend.noNoise': '{claim}: too few runs to tell the trend from the noise',
  'trend.within': 'The interval contains “no change”: the difference is within the noise of {runs} runs with one seed.',
  'trend.beyond': 'The interval excludes “no change”.',
  'landscape.heading': 'Loss landscape: a wide and a sharp minimum',
  'landscape.lead':
    'A toy problem with two weights, so the whole loss surface fits on the screen (darker is lower). Every path starts at the same point and takes the same number of SGD steps at the same learning rate; only the batch size differs. Each seed shuffles the 256 training samples in another order.',
  'landscape.controls': 'Settings of the paths',
  'landscape.batchSizes': 'Batch sizes',
  'landscape.batchSizes.help': '1 to 4 sizes, from 1 to 256',
  'landscape.lr': 'Learning rate',
  'landscape.steps': 'Steps',
  'landscape.seeds': 'Seeds',
  'landscape.showSeed': 'Path drawn for seed',
  'landscape.run': 'Run the paths',
  'landscape.canvas':
    'Loss surface with the SGD paths of each batch size for the chosen seed, and the end points of all seeds.',
  'landscape.sharp': 'sharp minimum',
  'landscape.wide': 'wide minimum',
  'landscape.start': 'start',
  'landscape.ends': 'end points of all seeds',
  'landscape.axisX': 'weight w₁ →',
  'landscape.axisY': 'weight w₂ →',
  'landscape.count': 'B = {b}: left the sharp minimum in {k} of {n} seeds',
  'landscape.countNone': 'B = {b}: stayed in the sharp minimum in all {n} seeds',
  'landscape.why':
    'Near the sharp minimum the samples disagree strongly about which way is down, so the gradient of a small batch is very noisy there and can throw the path out. A large batch averages that noise away and settles in the first minimum it reaches.',
  'landscape.honest':
    'This surface is built to show the effect, and even here it does not happen for every seed. On real networks, whether small batches find flatter minima, and whether flatter minima generalize better, is still debated (Keskar et al. 2017; Dinh et al. 2017).',
  'footer.text':
    'batchlab measures these effects on your own model and hardware from the command line (batchlab sweep). This page trains with TF.js in your browser.',
} as const;

export type StringKey = keyof typeof EN;
export type StringTable = Readonly<Record<StringKey, string>>;

export const RO: StringTable = {
  'page.title': 'batchlab playground: batch size-ul la lucru',
  'page.lead':
    'Antrenează aceeași rețea mică la două până la patru batch size-uri, una lângă alta, pornind de la aceleași ponderi inițiale și cu aceeași ordine a eșantioanelor, și urmărește ce face batch size-ul. Totul rulează în această pagină; nimic nu este trimis nicăieri.',
  'page.tabs': 'Vederi',
  'tab.runs': 'Una lângă alta',
  'tab.landscape': 'Peisajul funcției de pierdere',
  'lang.label': 'Limba',
  'backend.label': 'Backend',
  'backend.starting': 'pornește…',
  'backend.using': 'antrenează pe {name}',
  'backend.tried': 'încercate: {list}',
  'backend.attempt.ok': '{name} funcționează',
  'backend.attempt.failed': '{name} a eșuat ({reason})',
  'backend.reason.unavailable': 'nu este disponibil în acest browser',
  'backend.reason.init': 'nu a putut porni',
  'backend.reason.software': 'fără GPU: ar rula în software, mai lent decât wasm',
  'link.problems': 'Unele setări din link nu erau valide și au fost înlocuite cu valorile implicite: {list}',
  'controls.legend': 'Setările rulărilor',
  'field.dataset': 'Set de date',
  'dataset.spiral': 'Spirală cu 3 brațe',
  'dataset.gauss': 'Doi nori gaussieni',
  'dataset.mnist': 'Cifre MNIST (subset)',
  'field.batchSizes': 'Batch size-uri',
  'field.batchSizes.help': 'între 2 și 4 valori, separate prin virgule, de exemplu 8, 256',
  'field.optimizer': 'Optimizator',
  'optimizer.sgd': 'SGD',
  'optimizer.momentum': 'SGD cu moment',
  'optimizer.adam': 'Adam',
  'field.lr': 'Rata de învățare',
  'field.lrRule': 'Rata de învățare pentru alte batch size-uri',
  'rule.fixed': 'aceeași pentru orice batch',
  'rule.linear': 'scalată liniar cu B',
  'rule.sqrt': 'scalată cu rădăcina pătrată a lui B',
  'field.baseBatch': 'la batch size-ul',
  'field.hidden': 'Straturi ascunse',
  'field.hidden.help': 'lățimi, de exemplu 32, 32',
  'field.epochs': 'Epoci',
  'field.seed': 'Sămânță aleatoare',
  'field.backend': 'Backend',
  'backend.auto': 'cel mai bun',
  'field.invalid': 'Valoare nevalidă: {field}',
  'button.train': 'Antrenează',
  'button.pause': 'Pauză',
  'button.resume': 'Continuă',
  'button.reset': 'Resetează',
  'button.copyLink': 'Copiază linkul către aceste setări',
  'button.copied': 'Link copiat',
  'button.copyFailed': 'Copiază adresa din bara de adrese',
  'status.idle': 'Alege setările și apasă Antrenează.',
  'status.loading': 'Se încarcă datele…',
  'status.training': 'Se antrenează…',
  'status.paused': 'În pauză.',
  'status.done': 'Gata: toate rulările s-au încheiat.',
  'status.failed': 'Antrenarea s-a oprit: {message}',
  'error.batchTooBig':
    'batch size-ul {b} depășește numărul de eșantioane de antrenare ale acestui set de date ({n}); folosește cel mult {n}',
  'runs.heading': 'Rulările',
  'runs.empty': 'Rulările și graficele lor în timp real apar aici când începe antrenarea.',
  'run.title': 'B = {b}',
  'run.lr': 'rata {lr}',
  'run.progress': 'epoca {epoch} din {epochs}, pasul {step}',
  'run.loss': 'pierdere {loss}',
  'run.accuracy': 'acuratețe pe date de test {acc}',
  'run.speed': '{sps} eșantioane/s',
  'run.noise': 'B_simple {value}',
  'run.state.waiting': 'în așteptare',
  'run.state.training': 'se antrenează',
  'run.state.done': 'încheiată',
  'run.state.diverged': 'a divergat (pierderea a devenit infinită); încearcă o rată de învățare mai mică',
  'charts.heading': 'Grafice în timp real',
  'chart.lossSteps': 'Pierderea la antrenare în funcție de pași',
  'chart.lossSamples': 'Pierderea la antrenare în funcție de eșantioanele văzute',
  'chart.lossTime': 'Pierderea la antrenare în funcție de timpul de antrenare',
  'chart.accuracy': 'Acuratețea pe datele de test',
  'chart.speed': 'Viteza de antrenare',
  'chart.noise': 'Scara zgomotului gradientului B_simple',
  'chart.memory': 'Memoria maximă a unui pas de antrenare',
  'chart.note.lossSteps':
    'Un punct pe actualizare (pierderea acelui batch), pașii pe o scară logaritmică. Un batch mic face pe epocă multe actualizări ieftine și zgomotoase.',
  'chart.note.lossSamples':
    'Aceleași eșantioane pentru fiecare rulare: care batch size învață cel mai mult per eșantion? Fiecare punct face media ultimelor {n} de eșantioane.',
  'chart.note.lossTime':
    'Timpul petrecut în pașii de antrenare pe acest dispozitiv, pentru fiecare rulare. Fiecare punct face media ultimelor {n} de eșantioane.',
  'chart.note.accuracy': 'Măsurată pe eșantioane pe care rețeaua nu se antrenează niciodată.',
  'chart.note.speed': 'Mediana ultimilor {n} de pași.',
  'chart.note.noise':
    'B_simple = tr(Σ) / |G|², din normele pătrate ale gradientului la două batch size-uri (McCandlish et al. 2018). Batch-urile mult sub această valoare sunt dominate de zgomot.',
  'chart.note.memory':
    'Vârful memoriei tensorilor într-un pas, așa cum îl numără TF.js (ponderi, activări, gradienți).',
  'axis.steps': 'pași (actualizări)',
  'axis.samples': 'eșantioane văzute',
  'axis.timeS': 'timp de antrenare (s)',
  // axis labels stay under about 30 characters: uPlot centres them along a 250 px plot and clips the rest
  'axis.loss': 'entropie încrucișată',
  'axis.lossSmoothed': 'media pe {n} de eșantioane',
  'axis.accuracyPct': 'acuratețe pe date de test (%)',
  'axis.samplesPerSec': 'eșantioane pe secundă',
  'axis.bSimple': 'B_simple (eșantioane)',
  'axis.batch': 'batch size B (eșantioane)',
  'axis.memoryMb': 'memorie maximă (MB)',
  'series.run': 'B = {b}',
  'effects.heading': 'Ce arată aceste rulări',
  'effects.lead':
    'Fiecare panou pune o afirmație a sfatului obișnuit lângă dovezile din rulările tocmai antrenate, verificată așa cum o verifică batchlab: o tendință de-a lungul batch size-urilor, cu un interval de 95%.',
  'effect.memory': 'Memorie',
  'effect.speed': 'Viteză',
  'effect.stability': 'Stabilitate',
  'effect.generalization': 'Generalizare',
  'advice.memory': 'Sfatul obișnuit: un batch mai mare necesită mai multă memorie.',
  'advice.speed':
    'Sfatul obișnuit: batch-urile mai mari antrenează mai repede, folosind mai bine hardware-ul, deși fiecare pas durează mai mult.',
  'advice.stability': 'Sfatul obișnuit: batch-urile mici fac antrenarea mai zgomotoasă și mai puțin stabilă.',
  'advice.generalization':
    'Sfatul obișnuit: batch-urile mici generalizează mai bine; cele mari pot duce la supraantrenare și la minime mai ascuțite.',
  'why.memory':
    'În timpul unui pas, fiecare eșantion din batch își ține în memorie activările și gradienții, așa că vârful crește cu B. Ponderile ocupă același loc la orice B.',
  'why.speed':
    'Un pas are un cost fix (pornirea calculului, citirea ponderilor) și un cost pe eșantion. Un batch mare împarte costul fix la mai multe eșantioane, până când dispozitivul este ocupat complet.',
  'why.stability':
    'Gradientul unui batch este media eșantioanelor sale; mai multe eșantioane anulează mai mult din dezacordul lor. B_simple estimează batch size-ul de la care adăugarea de eșantioane nu mai ajută prea mult.',
  'why.generalization':
    'Acuratețea pe date de test se măsoară pe eșantioane pe care rețeaua nu le-a văzut la antrenare; diferența de generalizare este acuratețea la antrenare minus acuratețea pe date de test. Ascuțimea arată cât de abrupt crește pierderea în jurul punctului în care s-a oprit o rulare (vederea „Peisajul funcției de pierdere” arată de ce poate conta).',
  'see.label': 'Vezi graficele:',
  'result.memory': 'Memoria maximă a trecut de la {lo} MB (B = {bLo}) la {hi} MB (B = {bHi}).',
  'result.speed':
    'Viteza a trecut de la {lo} la {hi} eșantioane/s (de la B = {bLo} la {bHi}); un pas a durat {msLo} ms, respectiv {msHi} ms.',
  'result.stability':
    'Zgomotul pierderii (abaterea pierderii de la media ei mobilă) a trecut de la {lo} (B = {bLo}) la {hi} (B = {bHi}).',
  'result.noiseScale': 'B_simple la final: {list}.',
  'result.accuracy': 'Acuratețea pe date de test după același număr de epoci: {list}.',
  'result.gap': 'Diferența de generalizare (acuratețea la antrenare minus cea pe date de test): {list}.',
  'result.sharpness':
    'Ascuțimea minimului la final (cea mai mare valoare proprie a hessianei pierderii la antrenare): {list}.',
  'result.pending': 'Dovezile apar când rulările se încheie.',
  'result.notMeasured': 'nemăsurat',
  'verdict.label': 'Verdict',
  'verdict.agrees': 'confirmă sfatul obișnuit',
  'verdict.contradicts': 'contrazice sfatul obișnuit',
  'verdict.inconclusive': 'neconcludent',
  'verdict.pending': 'se așteaptă încheierea rulărilor',
  'claim.memory': 'memoria maximă',
  'claim.samples-per-sec': 'viteza (eșantioane/s)',
  'claim.step-time': 'timpul unui pas',
  'claim.loss-noise': 'zgomotul pierderii',
  'claim.gradient-noise': 'zgomotul gradientului per eșantion din batch (B_simple / B)',
  'claim.held-out-accuracy': 'acuratețea pe date de test',
  'claim.generalization-gap': 'diferența de generalizare',
  'claim.sharpness': 'ascuțimea minimului',
  'trend.factor': '{claim}: ×{factor} la fiecare dublare a lui B (interval de 95%: ×{low} până la ×{high})',
  'trend.factorExact': '{claim}: ×{factor} la fiecare dublare a lui B (numărat exact)',
  'trend.points':
    '{claim}: {slope} puncte procentuale la fiecare dublare a lui B (interval de 95%: {low} până la {high})',
  'trend.noNoise': '{claim}: prea puține rulări pentru a deosebi tendința de zgomot',
  'trend.within':
    'Intervalul conține „nicio schimbare”: diferența se încadrează în zgomotul a {runs} rulări cu o singură sămânță.',
  'trend.beyond': 'Intervalul exclude „nicio schimbare”.',
  'landscape.heading': 'Peisajul funcției de pierdere: un minim larg și unul ascuțit',
  'landscape.lead':
    'O problemă de jucărie cu două ponderi, ca toată suprafața funcției de pierdere să încapă pe ecran (mai închis înseamnă pierdere mai mică). Fiecare traiectorie pornește din același punct și face același număr de pași SGD cu aceeași rată de învățare; diferă doar batch size-ul. Fiecare sămânță amestecă cele 256 de eșantioane de antrenare în altă ordine.',
  'landscape.controls': 'Setările traiectoriilor',
  'landscape.batchSizes': 'Batch size-uri',
  'landscape.batchSizes.help': 'între 1 și 4 valori, de la 1 la 256',
  'landscape.lr': 'Rata de învățare',
  'landscape.steps': 'Pași',
  'landscape.seeds': 'Semințe',
  'landscape.showSeed': 'Traiectoria desenată pentru sămânța',
  'landscape.run': 'Rulează traiectoriile',
  'landscape.canvas':
    'Suprafața funcției de pierdere cu traiectoriile SGD ale fiecărui batch size pentru sămânța aleasă și punctele finale ale tuturor semințelor.',
  'landscape.sharp': 'minim ascuțit',
  'landscape.wide': 'minim larg',
  'landscape.start': 'pornire',
  'landscape.ends': 'punctele finale ale tuturor semințelor',
  'landscape.axisX': 'ponderea w₁ →',
  'landscape.axisY': 'ponderea w₂ →',
  // numbers from 20 up take "de" before a noun in Romanian: the counts stand apart from the nouns
  'landscape.count': 'B = {b}: a părăsit minimul ascuțit (semințe: {k} din {n})',
  'landscape.countNone': 'B = {b}: a rămas în minimul ascuțit la toate semințele ({n})',
  'landscape.why':
    'Lângă minimul ascuțit eșantioanele nu cad deloc de acord încotro este „în jos”, așa că gradientul unui batch mic este foarte zgomotos acolo și poate arunca traiectoria afară. Un batch mare face media acestui zgomot și se așază în primul minim la care ajunge.',
  'landscape.honest':
    'Această suprafață este construită ca să arate efectul și, chiar și aici, el nu apare pentru fiecare sămânță. La rețelele reale este încă dezbătut dacă batch-urile mici găsesc minime mai plate și dacă minimele mai plate generalizează mai bine (Keskar et al. 2017; Dinh et al. 2017).',
  'footer.text':
    'batchlab măsoară aceste efecte pe modelul și hardware-ul tău, din linia de comandă (batchlab sweep). Această pagină antrenează cu TF.js în browserul tău.',
};

export const STRINGS: Readonly<Record<Lang, StringTable>> = { en: EN, ro: RO };

/** The placeholders of a template, e.g. ["b", "k", "n"] for "B = {b}: ... {k} of {n} ...", sorted. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
}

/** The string `key` in `lang` with its placeholders filled; a placeholder without a value stays as written. */
export function translate(lang: Lang, key: StringKey, params: Readonly<Record<string, string | number>> = {}): string {
  return STRINGS[lang][key].replace(/\{(\w+)\}/g, (whole, name: string) =>
    params[name] === undefined ? whole : String(params[name]),
  );
}

/**
 * A number formatted by batchlab's one formatter (core/format.ts `num`, English separators) with the
 * separators of `lang`: Romanian writes 12.346 and 0,5 where English writes 12,346 and 0.5.
 */
export function localizeNumber(lang: Lang, formatted: string): string {
  return lang === 'ro' ? formatted.replace(/[.,]/g, (c) => (c === '.' ? ',' : '.')) : formatted;
}
