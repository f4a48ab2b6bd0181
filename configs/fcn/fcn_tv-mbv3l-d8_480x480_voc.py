# FCN with torchvision's MobileNetV3-Large at output stride 8 (dilated last two stages).
# Stage channels (24, 40, 112, 960): the decode head reads the 960-channel last stage with
# 256 channels, the auxiliary head the 112-channel stride-16 stage with 128.
_base_ = './fcn_r50-d8_480x480_voc.py'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='TorchvisionBackbone',
        model_name='mobilenet_v3_large',
        # ImageNet weights from a local torchvision file (nothing is downloaded), e.g.
        # weights='~/.cache/torch/hub/checkpoints/mobilenet_v3_large-5c1a4163.pth',
        weights=None,
        out_indices=(0, 1, 2, 3),
        output_stride=8,
        frozen_stages=-1,
        norm_eval=False),
    decode_head=dict(in_channels=960, channels=256),
    auxiliary_head=dict(in_channels=112, channels=128))
