import numpy as np

from photoface.data.synth import exact


def test_combine_is_the_offset_plus_the_matrix_product_for_one_or_many_coefficient_rows():
    rng = np.random.default_rng(0)
    basis, offset = rng.normal(size=(7, 30)), rng.normal(size=30)
    coeffs = rng.normal(size=(4, 7))
    np.testing.assert_allclose(exact.combine(coeffs, basis, offset), offset + coeffs @ basis, rtol=0, atol=1e-12)
    one = exact.combine(coeffs[1], basis)
    assert one.shape == (30,) and one.dtype == np.float64
    np.testing.assert_allclose(one, coeffs[1] @ basis, rtol=0, atol=1e-12)
    assert np.array_equal(exact.combine(np.zeros(0), np.zeros((0, 5)), np.ones(5)), np.ones(5))  # no modes: the offset


def test_rows_dot_is_the_matrix_vector_product_and_does_not_depend_on_memory_layout():
    rng = np.random.default_rng(1)
    a, x = rng.normal(size=(5, 3001)), rng.normal(size=3001)
    got = exact.rows_dot(a, x)
    np.testing.assert_allclose(got, a @ x, rtol=1e-12, atol=1e-12)
    # a Fortran-ordered copy of the same numbers gives the same bits (the summation order is fixed)
    assert np.array_equal(exact.rows_dot(np.asfortranarray(a), x), got)
    assert np.array_equal(exact.rows_dot(a.astype(np.float32), x), exact.rows_dot(a.astype(np.float32).astype(np.float64), x))
