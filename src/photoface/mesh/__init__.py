"""photoface.mesh: graph machinery on a fixed template (pure geometry, knows nothing of faces).

normals: face/vertex normals; graph: adjacency, Laplacians, neighbour means; decimate: COMA's
vertex-keeping quadric edge collapse; sampling: down/up-sampling matrices; hierarchy: the cached
multi-level MeshHierarchy used by the graph decoders; similarity: similarity transforms of point
sets and their least-squares fit (Umeyama), in 2-D and 3-D; border: the open border of a mesh
and each vertex's distance to it.
"""

from photoface.mesh.graph import (
    adjacency_matrix,
    chebyshev_laplacian,
    edges,
    laplacian,
    neighbour_mean_matrix,
)
from photoface.mesh.hierarchy import DEFAULT_FACTORS, MeshHierarchy, MeshLevel, load_or_build
from photoface.mesh.normals import face_normals, vertex_normals

__all__ = [
    "DEFAULT_FACTORS",
    "MeshHierarchy",
    "MeshLevel",
    "adjacency_matrix",
    "chebyshev_laplacian",
    "edges",
    "face_normals",
    "laplacian",
    "load_or_build",
    "neighbour_mean_matrix",
    "vertex_normals",
]
