"""Install mmdsb; OpenMMLab packages are listed for mim in mminstall.txt.

As in every OpenMMLab package, the configs, the tools and the model index
are installed inside the package, under ``mmdsb/.mim/``: mmengine reads
``mmdsb::<path>`` configs from ``.mim/configs`` and ``mim train`` / ``mim
test`` run ``.mim/tools/train.py`` / ``test.py``. A normal install copies
them into the wheel; an editable install links ``mmdsb/.mim/*`` to the
checkout's folders, so that edits show at once.
"""
import os
import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
# Top-level entries of the checkout installed under mmdsb/.mim/.
MIM_ENTRIES = ('configs', 'tools', 'model-index.yml')
MIM_IGNORE = shutil.ignore_patterns('__pycache__', '*.pyc')


def get_version():
    """Read ``__version__`` without importing the package (and torch)."""
    namespace = {}
    with open(osp.join(HERE, 'mmdsb', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), namespace)
    return namespace['__version__']


def parse_requirements(name):
    """Requirement lines of ``requirements/<name>``, comments dropped."""
    path = osp.join(HERE, 'requirements', name)
    requirements = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line.startswith('-'):
                raise ValueError(f'{path}: pip option {line!r} cannot be '
                                 'expressed as a package requirement')
            if line:
                requirements.append(line)
    return requirements


def _remove(path):
    if osp.islink(path) or osp.isfile(path):
        os.remove(path)
    elif osp.isdir(path):
        shutil.rmtree(path)


def link_mim_entries():
    """Editable installs: ``mmdsb/.mim/<entry>`` -> ``../../<entry>``."""
    mim_dir = osp.join(HERE, 'mmdsb', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for entry in MIM_ENTRIES:
        target = osp.join(mim_dir, entry)
        _remove(target)
        # Relative, so that the checkout can move.
        os.symlink(osp.join('..', '..', entry), target)


def copy_mim_entries(package_dir):
    """Normal installs: copy the entries into ``<package_dir>/.mim``."""
    mim_dir = osp.join(package_dir, '.mim')
    _remove(mim_dir)
    os.makedirs(mim_dir)
    for entry in MIM_ENTRIES:
        source = osp.join(HERE, entry)
        if not osp.exists(source):
            raise FileNotFoundError(
                f'{source} is missing: mmdsb installs it under mmdsb/.mim/ '
                '(build from a complete checkout or source distribution)')
        if osp.isdir(source):
            shutil.copytree(source, osp.join(mim_dir, entry),
                            ignore=MIM_IGNORE)
        else:
            shutil.copyfile(source, osp.join(mim_dir, entry))


class BuildPyWithMim(build_py):
    """Adds ``mmdsb/.mim`` to the built package (links when editable).

    Editable installs (``pip install -e .``, and ``setup.py develop``,
    which setuptools runs as one) build with ``editable_mode`` set. The
    copies of a normal build go to the build folder, never into the
    checkout, so they leave the links of an editable install intact.
    """

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            link_mim_entries()
        else:
            copy_mim_entries(osp.join(self.build_lib, 'mmdsb'))


if __name__ == '__main__':
    setup(
        name='mmdsb',
        version=get_version(),
        description='Dynamic Semantic-Scale-Balanced learning for '
        'OpenMMLab (mmpretrain and mmdet)',
        long_description='Semantic-scale-balanced re-weighting for '
        'long-tailed image classification and object detection, as an '
        'mmpretrain and mmdet plugin.',
        keywords='computer vision, long-tailed classification, '
        'long-tailed detection, mmpretrain, mmdet',
        packages=find_packages(include=('mmdsb', 'mmdsb.*')),
        python_requires='>=3.10',
        classifiers=[
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        install_requires=parse_requirements('runtime.txt'),
        extras_require={
            'all': parse_requirements('runtime.txt') +
            parse_requirements('optional.txt') +
            parse_requirements('tests.txt'),
            'tests': parse_requirements('tests.txt'),
            'optional': parse_requirements('optional.txt'),
            'mim': parse_requirements('mminstall.txt'),
            # mmdet also needs mmcv 2.1.0 built with its ops (README).
            'det': parse_requirements('det.txt'),
        },
        cmdclass={'build_py': BuildPyWithMim},
        zip_safe=False)
