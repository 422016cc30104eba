import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countBelow, lanczosTopEigenvalue, largestTridiagonalEigenvalue } from './lanczos.js';
import { createRng } from './random.js';

/** A = Q diag(values) Q^T with Q a product of random Householder reflections: a symmetric matrix with known eigenvalues. */
function symmetricWith(values: readonly number[], seed: number): Float64Array[] {
  const n = values.length;
  const rng = createRng(seed);
  const a = Array.from({ length: n }, (_, i) => Float64Array.from({ length: n }, (_, j) => (i === j ? values[i]! : 0)));
  for (let r = 0; r < 3; r++) {
    const u = Float64Array.from({ length: n }, () => rng.normal());
    const uu = u.reduce((s, x) => s + x * x, 0);
    // A <- H A H with H = I - 2 u u^T / (u^T u)
    const au = a.map((row) => row.reduce((s, x, j) => s + x * u[j]!, 0));
    const uau = au.reduce((s, x, i) => s + x * u[i]!, 0);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        a[i]![j]! += (-2 * (au[i]! * u[j]! + u[i]! * au[j]!)) / uu + (4 * uau * u[i]! * u[j]!) / (uu * uu);
  }
  return a;
}

const times = (a: Float64Array[]) => (v: Float64Array) =>
  Float64Array.from(a, (row) => row.reduce((s, x, j) => s + x * v[j]!, 0));

test('the tridiagonal eigen-solver: a 2x2 closed form and the Sturm count', () => {
  // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
  assert.ok(Math.abs(largestTridiagonalEigenvalue([2, 2], [1]) - 3) < 1e-12);
  assert.equal(countBelow([2, 2], [1], 2), 1);
  assert.equal(countBelow([2, 2], [1], 0.5), 0);
  assert.equal(countBelow([2, 2], [1], 3.5), 2);
  assert.equal(largestTridiagonalEigenvalue([-4], []), -4);
});

test('Lanczos finds the largest eigenvalue, not the one of largest magnitude', () => {
  const values = [5, 4.5, 3, 1, 0.5, -2, -9, 0.1, 0.2, 2.5];
  const a = symmetricWith(values, 7);
  const start = Float64Array.from({ length: values.length }, (_, i) => Math.sin(i + 1));
  const r = lanczosTopEigenvalue({ apply: times(a), start, maxIterations: 50, relTol: 1e-12 });
  assert.ok(Math.abs(r.value - 5) < 1e-9, `got ${r.value}`);
  assert.ok(r.converged);
  assert.ok(
    r.iterations <= values.length,
    `a ${values.length}-dimensional space is exhausted by then: ${r.iterations}`,
  );
});

test('Lanczos needs far fewer products than power iteration for the same accuracy', () => {
  const n = 200;
  const rng = createRng(3);
  // A spectrum like a trained network's Hessian: a few outliers above a bulk near zero.
  const values = Array.from({ length: n }, (_, i) =>
    i === 0 ? 10 : i === 1 ? 9.5 : i < 6 ? 6 - i : rng.normal() * 0.3,
  );
  const a = symmetricWith(values, 11);
  const start = Float64Array.from({ length: n }, () => rng.normal());
  const r = lanczosTopEigenvalue({ apply: times(a), start, maxIterations: 100, relTol: 1e-4 });
  assert.ok(Math.abs(r.value - 10) / 10 < 1e-3, `got ${r.value}`);
  // Power iteration on the same start: how many products until within 0.1%?
  let v = start.slice();
  let powerSteps = 0;
  for (let rq = 0; Math.abs(rq - 10) / 10 >= 1e-3 && powerSteps < 10_000; powerSteps++) {
    const av = times(a)(v);
    rq = av.reduce((s, x, i) => s + x * v[i]!, 0) / v.reduce((s, x) => s + x * x, 0);
    const norm = Math.hypot(...av);
    v = av.map((x) => x / norm);
  }
  assert.ok(r.iterations * 3 < powerSteps, `Lanczos ${r.iterations} products, power iteration ${powerSteps}`);
});

test('Lanczos stops at the cap and says it did not converge', () => {
  const a = symmetricWith([3, 2.999, 2.998, 1, 0], 5);
  const r = lanczosTopEigenvalue({
    apply: times(a),
    start: Float64Array.of(1, 2, 3, 4, 5),
    maxIterations: 2,
    relTol: 0,
  });
  assert.equal(r.iterations, 2);
  assert.equal(r.converged, false);
  assert.throws(
    () => lanczosTopEigenvalue({ apply: times(a), start: new Float64Array(5), maxIterations: 3 }),
    /non-zero/,
  );
});
