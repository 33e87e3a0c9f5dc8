"""A small network written once against the names torch.nn and autocompyute.nn share: scripts/make_torch_refs_nn.py
builds it with torch.nn to record PyTorch's state dict and outputs, tests/test_torch_refs_nn.py with
autocompyute.nn to load that state dict strictly and reproduce them."""


def carry_over_model(nn):
    """The same small network in torch.nn or autocompyute.nn (both have these names and layouts)."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 8, padding_idx=0)
            self.norm = nn.LayerNorm(8)
            self.fc = nn.Linear(8, 6)
            self.bn = nn.BatchNorm1d(6)
            self.gn = nn.GroupNorm(2, 6)
            self.head = nn.Sequential(nn.GELU(), nn.Linear(6, 3, bias=False))

        def forward(self, tokens):
            h = self.fc(self.norm(self.emb(tokens)))            # (B, T, 6)
            h = self.gn(self.bn(h.transpose(1, 2)))             # (B, 6, T)
            return self.head(h.transpose(1, 2))                 # (B, T, 3)

    return Net()
