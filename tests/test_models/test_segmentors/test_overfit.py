"""A tiny FCN must be able to fit one batch: the loss falls by >= 90% in 100 iterations."""
import torch

from fcn_mm.registry import MODELS


def test_tiny_fcn_overfits_one_batch(tiny_fcn_cfg, make_sample):
    torch.manual_seed(0)
    cfg = tiny_fcn_cfg(num_classes=3)
    # dropout noise would put a floor under a one-batch fit
    cfg['decode_head']['dropout_ratio'] = cfg['auxiliary_head']['dropout_ratio'] = 0
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    gen = torch.Generator().manual_seed(1)
    # 32x32 images of 8x8 blocks (aligned with the output stride), one colour per class
    labels = torch.randint(0, 3, (2, 4, 4), generator=gen)
    labels = labels.repeat_interleave(8, 1).repeat_interleave(8, 2)
    colours = torch.tensor([[200, 40, 40], [40, 200, 40], [40, 40, 200]], dtype=torch.uint8)
    images = colours[labels].permute(0, 3, 1, 2).contiguous()
    labels[0, :2] = 255
    data = model.data_preprocessor(
        dict(inputs=list(images), data_samples=[make_sample(lbl) for lbl in labels]), True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    history = []
    for _ in range(100):
        losses = model(data['inputs'], data['data_samples'], mode='loss')
        loss = losses['decode.loss_ce'] + losses['aux.loss_ce']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
        if history[-1] <= 0.1 * history[0]:
            break
    assert history[-1] <= 0.1 * history[0], history[::10]
