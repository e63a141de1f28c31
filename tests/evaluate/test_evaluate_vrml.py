"""The VRML IndexedFaceSet reader on tiny hand-written files."""

import gzip

import numpy as np
import pytest

from photoface.errors import InputFileError
from photoface.evaluate.vrml import read_vrml

VRML2 = """#VRML V2.0 utf8
# a comment with a [ bracket and { brace
WorldInfo { title "scan # not a comment" }
DEF scan Transform {
  translation 10 0 0
  children [
    Shape {
      appearance Appearance { texture ImageTexture { url "tex.bmp" } }
      geometry IndexedFaceSet {
        solid FALSE
        coord DEF pts Coordinate { point [ 0 0 0, 1 0 0, 1 1 0, 0 1 0 ] }
        texCoord TextureCoordinate { point [ 0 0, 1 0, 1 1, 0 1 ] }
        coordIndex [ 0, 1, 2, 3, -1 ]
        texCoordIndex [ 0 1 2 3 -1 ]
      }
    }
    Shape { geometry IndexedFaceSet { coord USE pts coordIndex [ 0 2 3 ] } }
  ]
}
"""

VRML1 = """#VRML V1.0 ascii
Separator {
  Coordinate3 { point [ 0 0 0, 2 0 0, 0 2 0 ] }
  IndexedFaceSet { coordIndex [ 0, 1, 2, -1 ] }
}
"""


def test_vrml2_shapes_transform_def_use_and_polygons(tmp_path):
    path = tmp_path / "scan.wrl"
    path.write_text(VRML2)
    verts, faces = read_vrml(path)
    # two shapes of 4 points each (the second reuses the coordinates), translated by +10 in x
    assert verts.shape == (8, 3) and np.allclose(verts[:4, 0], [10, 11, 11, 10])
    # the quad is fan-triangulated; the second face set has no trailing -1
    assert faces.tolist() == [[0, 1, 2], [0, 2, 3], [4, 6, 7]]


def test_vrml2_rotation_and_scale(tmp_path):
    text = """#VRML V2.0 utf8
Transform { rotation 0 0 1 1.5707963267948966 scale 2 2 2
  children Shape { geometry IndexedFaceSet {
    coord Coordinate { point [ 1 0 0, 0 1 0, 0 0 1 ] } coordIndex [ 0 1 2 -1 ] } } }
"""
    path = tmp_path / "r.wrl"
    path.write_text(text)
    verts, _ = read_vrml(path)
    assert np.allclose(verts, [[0, 2, 0], [-2, 0, 0], [0, 0, 2]], atol=1e-12)


def test_vrml1_and_gzip(tmp_path):
    path = tmp_path / "v1.wrl.gz"
    path.write_bytes(gzip.compress(VRML1.encode()))
    verts, faces = read_vrml(path)
    assert verts.tolist() == [[0, 0, 0], [2, 0, 0], [0, 2, 0]] and faces.tolist() == [[0, 1, 2]]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("solid 1 2 3", "not a VRML file"),
        ("#VRML V2.0 utf8\nShape { geometry Box { size 1 1 1 } }", "no IndexedFaceSet"),
        ("#VRML V2.0 utf8\nShape { geometry IndexedFaceSet { coord Coordinate { point [ 0 0 0 ] }"
         " coordIndex [ 0 1 2 -1 ] } }", "outside"),
        ("#VRML V2.0 utf8\nShape { geometry IndexedFaceSet { coord USE nothing } }", "undefined"),
        ("#VRML V2.0 utf8\nShape { geometry IndexedFaceSet { coordIndex [ 0 1 2", "unterminated"),
    ],
)
def test_vrml_errors_name_the_file_and_problem(tmp_path, text, problem):
    path = tmp_path / "bad.wrl"
    path.write_text(text)
    with pytest.raises(InputFileError, match=problem) as info:
        read_vrml(path)
    assert str(path) in str(info.value)
