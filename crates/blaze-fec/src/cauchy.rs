//! The systematic Cauchy generator and its closed-form inverse.
//!
//! With `k` data and `m` parity symbols, the generator is the
//! `(k + m) x k` matrix `[I; C]`: `I` copies the data symbols unchanged
//! (systematic) and `C[i][j] = 1 / (x_i + y_j)` with `y_j = j` for the data
//! columns and `x_i = k + i` for the parity rows. The `x`s and `y`s are
//! `k + m <= 255` distinct field elements, so no sum is 0, and every square
//! submatrix of a Cauchy matrix is invertible: any `k` rows of `[I; C]` form
//! an invertible matrix, which is the "any `k` of `k + m`" (MDS) property.
//!
//! Decoding never inverts a `k x k` matrix. With the lost data columns `E`
//! (`e` of them) and `e` received parity rows `P`, the received data rows are
//! rows of `I` and eliminate at once, leaving the `e x e` Cauchy system
//! `C[P][E] * d_E = parity_P - C[P][present] * d_present`. Its inverse has a
//! closed form (below), so there is no elimination, no pivot search and no
//! singular case; folding the right-hand side in gives each lost symbol as a
//! combination of the `k` symbols used, with coefficients computed in
//! `O(e * k)` field operations.

use crate::gf256::{exp, inv, log};

/// The coefficient of data symbol `col` in parity symbol `row` of a code
/// with `data` data symbols: `1 / ((data + row) + col)`.
///
/// The caller keeps `data + row <= 254` and `col < data`, which
/// [`Codec`](crate::Codec) checks once at construction.
#[inline]
pub(crate) fn parity_coef(data: u8, row: u8, col: u8) -> u8 {
    inv(data.wrapping_add(row) ^ col)
}

/// Fills `d` (column-major, `e` bytes per column, `k` columns) with the
/// decoding matrix: lost symbol `r` is `sum_j d[j * e + r] * s_j`, where
/// `s_j` is data symbol `j` if it was received and parity row `prows[t]` if
/// `j == lost[t]`.
///
/// `lost` holds the `e` lost data indices in increasing order, `prows` the
/// `e` distinct parity rows used in their place, `work` at least `2 * e`
/// bytes. Both lists are validated by the caller (`lost[t] < k`,
/// `k + prows[t] <= 254`); extra or missing room only shortens the work, it
/// never panics.
///
/// With `x_p = k + prows[p]`, `y_r = lost[r]`, `f(t) = prod_p (t + x_p)` and
/// `g(t) = prod_r (t + y_r)`, the inverse of `C[p][r] = 1 / (x_p + y_r)` is
/// `B[r][p] = a_p * b_r / (x_p + y_r)` with `a_p = g(x_p) / f'(x_p)` and
/// `b_r = f(y_r) / g'(y_r)` (in characteristic 2, `f'(x_p)` is the product
/// of `x_p + x_q` over the other `q`). For a received data column `j`, the
/// coefficient `sum_p B[r][p] / (x_p + y_j)` splits by partial fractions
/// into `b_r * (S(y_r) + S(y_j)) / (y_r + y_j)` with
/// `S(t) = sum_p a_p / (x_p + t)`, and `S(t) = g(t) / f(t) + 1` (the
/// partial fractions of `g / f`), so `S(y_r) = 1` and the coefficient is
/// `b_r * h_j / (y_r + y_j)` with `h_j = g(y_j) / f(y_j)`.
///
/// The arithmetic runs on logarithms (every `a_p`, `b_r`, `h_j` and
/// difference is non-zero), so it touches only the small log and power
/// tables: `O(e * k)` lookups in all.
pub(crate) fn decode_matrix(k: u8, lost: &[u8], prows: &[u8], work: &mut [u8], d: &mut [u8]) {
    let e = lost.len();
    let x = |p: u8| k.wrapping_add(p);
    // log(u + v) for distinct elements, as an exponent offset.
    let lg = |u: u8, v: u8| usize::from(log(u ^ v));
    let Some((log_a, rest)) = work.split_at_mut_checked(e) else {
        return;
    };
    let Some((log_b, _)) = rest.split_at_mut_checked(e) else {
        return;
    };

    // a_p = prod_r (x_p + y_r) / prod_{q != p} (x_p + x_q), as a logarithm;
    // `255 * e` keeps the difference of the sums non-negative.
    for (la, &p) in log_a.iter_mut().zip(prows) {
        let num: usize = lost.iter().map(|&y| lg(x(p), y)).sum();
        let den: usize = prows
            .iter()
            .filter(|&&q| q != p)
            .map(|&q| lg(x(p), x(q)))
            .sum();
        *la = exp_log(num + 255 * e - den);
    }
    // b_r = prod_p (x_p + y_r) / prod_{z != y_r} (y_r + z).
    for (lb, &y) in log_b.iter_mut().zip(lost) {
        let num: usize = prows.iter().map(|&p| lg(x(p), y)).sum();
        let den: usize = lost.iter().filter(|&&z| z != y).map(|&z| lg(y, z)).sum();
        *lb = exp_log(num + 255 * e - den);
    }
    let (log_a, log_b) = (&*log_a, &*log_b);

    let mut stand_in = log_a.iter().zip(prows);
    for (j, column) in (0..=u8::MAX).zip(d.chunks_exact_mut(e.max(1)).take(usize::from(k))) {
        if lost.contains(&j) {
            // Column of the parity symbol standing in for this lost symbol
            // (the lost indices are increasing, so they meet the parity rows
            // in order): B[r][t] = a_t * b_r / (x_t + y_r).
            let Some((&la, &pt)) = stand_in.next() else {
                break;
            };
            for ((c, &lb), &y) in column.iter_mut().zip(log_b).zip(lost) {
                *c = exp(usize::from(la) + usize::from(lb) + 255 - lg(x(pt), y));
            }
        } else {
            // h_j = g(y_j) / f(y_j), then b_r * h_j / (y_r + y_j).
            let g: usize = lost.iter().map(|&y| lg(j, y)).sum();
            let f: usize = prows.iter().map(|&p| lg(j, x(p))).sum();
            let log_h = usize::from(exp_log(g + 255 * e - f));
            for ((c, &lb), &y) in column.iter_mut().zip(log_b).zip(lost) {
                *c = exp(usize::from(lb) + log_h + 255 - lg(y, j));
            }
        }
    }
}

/// `i mod 255` as a byte: the canonical logarithm of `2^i`.
fn exp_log(i: usize) -> u8 {
    (i % 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gf256::mul;

    /// `C[P][E] * B = I` for the closed-form `B`, over many shapes.
    #[test]
    fn closed_form_inverts_the_cauchy_block() {
        for (k, m) in [
            (1u8, 1u8),
            (4, 2),
            (5, 3),
            (16, 4),
            (64, 8),
            (200, 55),
            (10, 245),
        ] {
            let e = usize::from(m.min(k));
            // Lose the last `e` data symbols, use the last `e` parity rows.
            let lost: std::vec::Vec<u8> = (k - e as u8..k).collect();
            let prows: std::vec::Vec<u8> = (m - e as u8..m).collect();
            let mut work = std::vec![0u8; 2 * e];
            let mut d = std::vec![0u8; e * usize::from(k)];
            decode_matrix(k, &lost, &prows, &mut work, &mut d);
            // (B * C[P][E])[r][r2] = sum_t B[r][t] * C[p_t][lost[r2]], and
            // column lost[t] of `d` holds B[.][t].
            for r in 0..e {
                for r2 in 0..e {
                    let mut acc = 0;
                    for (t, &pt) in prows.iter().enumerate() {
                        let brt = d[usize::from(lost[t]) * e + r];
                        acc ^= mul(brt, parity_coef(k, pt, lost[r2]));
                    }
                    assert_eq!(acc, u8::from(r == r2), "k={k} m={m} r={r} r2={r2}");
                }
            }
        }
    }
}
