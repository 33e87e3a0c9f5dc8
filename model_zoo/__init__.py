"""The model zoo: one model per module, each with a dataclass `Config`, `build(config) -> nn.Module` and
`example_inputs(config, batch=...) -> tuple of Tensors`. `MODELS` maps names to those modules."""
from . import bert, gpt, gru, lenet, lstm, mlp, mobilenetv2, resnet

MODELS = {
    "mlp": mlp,
    "lenet": lenet,
    "resnet": resnet,
    "mobilenetv2": mobilenetv2,
    "lstm": lstm,
    "gru": gru,
    "gpt": gpt,
    "bert": bert,
}
