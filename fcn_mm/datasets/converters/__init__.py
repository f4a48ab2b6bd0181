"""Dataset converters' logic (the command lines are ``tools/dataset_converters/*.py``).

- :mod:`.cityscapes`: ``*_gtFine_labelIds.png`` (or ``*_gtFine_polygons.json``) to
  ``*_gtFine_labelTrainIds.png`` with the official id table, and the split lists;
- :mod:`.coco_stuff`: COCO-Stuff 164k stuffthingmaps to ``*_labelTrainIds.png``
  (171 classes);
- :mod:`.pascal_context`: ``trainval_merged.json`` to ``SegmentationClassContext``
  PNGs (59 classes + background) and the split lists.
"""
