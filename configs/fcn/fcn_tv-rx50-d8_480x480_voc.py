# FCN with torchvision's ResNeXt-50 32x4d at output stride 8 on Pascal VOC.
# Same as fcn_r50-d8_480x480_voc.py except the backbone; the heads keep 2048/1024 channels.
_base_ = './fcn_r50-d8_480x480_voc.py'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='TorchvisionBackbone',
        model_name='resnext50_32x4d',
        # ImageNet weights from a local torchvision file (nothing is downloaded), e.g.
        # weights='~/.cache/torch/hub/checkpoints/resnext50_32x4d-1a0047aa.pth',
        weights=None,
        out_indices=(0, 1, 2, 3),
        output_stride=8,
        frozen_stages=-1,
        norm_eval=False))
