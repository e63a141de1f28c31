"""photoface.nn: the networks of the paper.

chebconv: Chebyshev graph convolution and sparse sampling (vertex-major); encoder: ResNet with
four code heads; decoders: COMA shape / albedo GCN decoders; albedo_cnn: stage-2 CNN albedo with
U-Net skips; discriminator: GCN critic on shapes; facenet: the assembled generator.
"""

from photoface.nn.albedo_cnn import AlbedoCNN, vertex_albedo_from_map, visible_vertices
from photoface.nn.chebconv import ChebConv, GraphSampling, sparse_mm, to_torch_csr
from photoface.nn.decoders import AlbedoDecoder, GraphDecoder, ShapeDecoder
from photoface.nn.discriminator import ShapeDiscriminator
from photoface.nn.encoder import EncoderOutput, ResNetEncoder, load_imagenet_weights
from photoface.nn.facenet import FaceNet, FaceNetOutput, build_facenet

__all__ = [
    "AlbedoCNN",
    "AlbedoDecoder",
    "ChebConv",
    "EncoderOutput",
    "FaceNet",
    "FaceNetOutput",
    "GraphDecoder",
    "GraphSampling",
    "ResNetEncoder",
    "ShapeDecoder",
    "ShapeDiscriminator",
    "build_facenet",
    "load_imagenet_weights",
    "sparse_mm",
    "to_torch_csr",
    "vertex_albedo_from_map",
    "visible_vertices",
]
